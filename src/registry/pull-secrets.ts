// STAND-IN (branch h10c): h10b owns src/registry/pull-secrets.ts; the merger takes h10b's file and drops this one.
// Same shape as h10b's (`configs`, `missing`).
import type { Manifest } from '../api/types.js';
import type { DockerConfigJson } from './credentials.js';

export interface PullSecrets {
  configs: DockerConfigJson[];
  missing: string[];
}

export function pullSecretsOf(_manifest: Manifest): PullSecrets {
  return { configs: [], missing: [] };
}
