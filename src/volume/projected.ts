import type { Manifest, Volume } from '../api/types.js';
import type { NodeAllocatable } from '../api/node.js';
import type { PayloadFile } from './atomic-writer.js';
import { downwardAPIPayload } from './downward-api.js';

/**
 * The payload of a key-projecting volume, for atomic-writer.ts: configMap and secret volumes
 * (pkg/volume/configmap/configmap.go and pkg/volume/secret/secret.go MakePayload), and projected
 * volumes, whose sources are merged into one directory (pkg/volume/projected/projected.go
 * collectData). A missing ConfigMap or Secret that is not optional never gets here: the manifest
 * check refuses it (validation.ts keyRefs), as `podbox run` refuses a configMap volume's; an
 * optional one adds nothing. serviceAccountToken and clusterTrustBundle sources are refused by the
 * schema: they need an API server.
 */

type KeyToPath = { key: string; path: string; mode?: number };

/** The keys of ConfigMap `name` (data, then binaryData) as bytes; empty when it is absent. */
export function configMapData(m: Manifest, name: string): Map<string, Buffer> {
  const cm = m.configMaps.get(name);
  const data = new Map<string, Buffer>();
  for (const [k, s] of Object.entries(cm?.data ?? {})) data.set(k, Buffer.from(s));
  for (const [k, s] of Object.entries(cm?.binaryData ?? {})) data.set(k, Buffer.from(s, 'base64'));
  return data;
}

/** The keys of Secret `name` (data decoded, stringData over it) as bytes; empty when it is absent. */
export function secretData(m: Manifest, name: string): Map<string, Buffer> {
  const sec = m.secrets.get(name);
  const data = new Map<string, Buffer>();
  for (const [k, s] of Object.entries(sec?.data ?? {})) data.set(k, Buffer.from(s, 'base64'));
  for (const [k, s] of Object.entries(sec?.stringData ?? {})) data.set(k, Buffer.from(s));
  return data;
}

/**
 * MakePayload: every key under its own name with defaultMode, or only `items`, each at its path
 * with its mode (a key the object lacks is skipped: only an optional reference gets here with one).
 */
export function keysPayload(data: Map<string, Buffer>, items: KeyToPath[] | undefined, mode: number): PayloadFile[] {
  if (!items) return [...data].map(([path, content]) => ({ path, content, mode }));
  return items
    .filter((i) => data.has(i.key))
    .map((i) => ({ path: i.path, content: data.get(i.key)!, mode: i.mode ?? mode }));
}

/** The files of a projected volume: each source's, in order, with the volume's defaultMode. */
export function projectedPayload(
  m: Manifest,
  projected: NonNullable<Volume['projected']>,
  node: NodeAllocatable,
): PayloadFile[] {
  const mode = projected.defaultMode;
  const out: PayloadFile[] = [];
  for (const s of projected.sources ?? []) {
    if (s.configMap) out.push(...keysPayload(configMapData(m, s.configMap.name), s.configMap.items, mode));
    else if (s.secret) out.push(...keysPayload(secretData(m, s.secret.name), s.secret.items, mode));
    else if (s.downwardAPI) out.push(...downwardAPIPayload(m.pod, s.downwardAPI.items ?? [], mode, node));
  }
  return out;
}
