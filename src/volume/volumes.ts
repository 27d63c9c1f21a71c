import { quantityBytes } from '../api/quantity.js';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join, dirname, relative, isAbsolute } from 'node:path';
import type { Manifest, Volume } from '../api/types.js';
import type { NativeMount } from '../sandbox/native.js';
import { tmpfsMount, writableBind } from '../sandbox/sandbox.js';
import { applyFsGroup, volumeOwnership, type VolumeOwnership } from './ownership.js';

/**
 * Pod volumes (https://kubernetes.io/docs/concepts/storage/volumes/). Each lives under the pod's
 * volumes/ directory and is bind-mounted into every container that names it, so they share it.
 *  - emptyDir: a directory (mode 0777, as the kubelet makes it); medium Memory: a tmpfs mounted
 *    in the pod's mount namespace, sizeLimit as its size. A disk emptyDir's sizeLimit is not
 *    enforced yet (the kubelet enforces it by eviction).
 *  - configMap / secret: the object's keys projected as files, always mounted read-only.
 * With securityContext.fsGroup each is then given to that group (ownership.ts applyFsGroup).
 * The pod's root shows the pod directory read-only (sandbox/pod-root.ts): an emptyDir is made
 * writable there by a bind of its own, which also makes it a mount point nothing in the pod can
 * rename or swap for a symlink.
 */
export interface PreparedVolume {
  name: string;
  path: string;
  /** mounted read-only whatever the volumeMount says */
  readOnly: boolean;
}

export function prepareVolumes(
  podDir: string,
  m: Manifest,
  pausePid: number,
): { volumes: Map<string, PreparedVolume>; mounts: NativeMount[] } {
  const volumes = new Map<string, PreparedVolume>();
  const mounts: NativeMount[] = [];
  const owned: VolumeOwnership[] = [];
  for (const v of m.pod.spec.volumes ?? []) {
    const path = join(podDir, 'volumes', v.name);
    mkdirSync(path, { recursive: true });
    if (v.emptyDir) {
      chmodSync(path, 0o777);
      const size = v.emptyDir.sizeLimit ? quantityBytes(v.emptyDir.sizeLimit) : undefined;
      if (v.emptyDir.medium === 'Memory') {
        mounts.push(tmpfsMount(path, size, m.pod.spec.securityContext.fsGroup));
      } else {
        mounts.push(...writableBind(path));
        owned.push(volumeOwnership(m.pod, path, { readOnly: false }));
      }
      volumes.set(v.name, { name: v.name, path, readOnly: false });
    } else {
      projectKeys(path, v, m);
      owned.push(volumeOwnership(m.pod, path, { readOnly: true }));
      volumes.set(v.name, { name: v.name, path, readOnly: true });
    }
  }
  applyFsGroup(pausePid, owned);
  return { volumes, mounts };
}

function projectKeys(dir: string, v: Volume, m: Manifest): void {
  let data: Record<string, Buffer> = {};
  let items: { key: string; path: string; mode?: number }[] | undefined;
  let mode = 0o644;
  if (v.configMap) {
    const cm = m.configMaps.get(v.configMap.name);
    for (const [k, s] of Object.entries(cm?.data ?? {})) data[k] = Buffer.from(s);
    for (const [k, s] of Object.entries(cm?.binaryData ?? {})) data[k] = Buffer.from(s, 'base64');
    items = v.configMap.items;
    mode = v.configMap.defaultMode ?? mode;
  } else if (v.secret) {
    const sec = m.secrets.get(v.secret.secretName);
    for (const [k, s] of Object.entries(sec?.data ?? {})) data[k] = Buffer.from(s, 'base64');
    for (const [k, s] of Object.entries(sec?.stringData ?? {})) data[k] = Buffer.from(s);
    items = v.secret.items;
    mode = v.secret.defaultMode ?? mode;
  }
  const entries = items
    ? items.filter((i) => data[i.key]).map((i) => ({ path: i.path, content: data[i.key]!, mode: i.mode ?? mode }))
    : Object.entries(data).map(([k, content]) => ({ path: k, content, mode }));
  for (const e of entries) {
    // The manifest check refuses '..' and absolute item paths as the API server does
    // (validation.go validateKeyToPath); this holds even if it did not. dir is new and only
    // podbox writes in it before any container runs, so no symlink can be on the way.
    const file = join(dir, e.path);
    const rel = relative(dir, file);
    if (!rel || rel.startsWith('..') || isAbsolute(rel)) {
      throw new Error(`volume "${v.name}": item path "${e.path}" leaves the volume`);
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, e.content, { mode: e.mode });
  }
  data = {};
}
