// STAND-IN (branch h10c): h10b owns src/registry/pull-secrets.ts; the merger takes h10b's file and drops this one.
import type { Manifest } from '../api/types.js';
import type { DockerConfigJson } from './credentials.js';

export function pullSecretsOf(_manifest: Manifest): { secrets: DockerConfigJson[]; missing: string[] } {
  return { secrets: [], missing: [] };
}
