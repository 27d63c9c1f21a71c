import { lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../api/types.js';
import { quantityBytes, canonicalQuantity } from '../api/quantity.js';

/**
 * emptyDir `sizeLimit` on disk, enforced as the kubelet's eviction manager does
 * (pkg/kubelet/eviction/eviction_manager.go emptyDirLimitEviction): a disk emptyDir whose usage
 * exceeds its limit (strictly more bytes) evicts the pod, with helpers.go's message
 * `Usage of EmptyDir volume "NAME" exceeds the limit "LIMIT". ` (emptyDirMessageFmt, the trailing
 * space included; LIMIT as resource.Quantity.String prints it).
 * A Memory emptyDir needs none of this: its tmpfs has the limit as its size.
 *
 * The kubelet looks every monitoring interval (10 s, its housekeeping period); podbox's supervisor
 * looks every EMPTY_DIR_CHECK_MS (2 s): a pod on one machine is watched closely for less cost.
 * Usage is counted as du does (pkg/volume/util/fs DiskUsage): allocated blocks (st_blocks × 512),
 * a hard-linked file once, symlinks not followed, other filesystems (mounts) not entered; at most
 * WALK_LIMIT entries a check, so a huge tree cannot stall the supervisor (what is counted is then
 * a lower bound, still enough to evict).
 */

export const EMPTY_DIR_CHECK_MS = 2000;
export const WALK_LIMIT = 100_000;

/** A disk emptyDir with a sizeLimit: its name, its directory on the host, its limit. */
export interface LimitedEmptyDir {
  name: string;
  path: string;
  limitBytes: number;
  limit: string;
}

/** The disk emptyDirs of `pod` that have a positive sizeLimit (size.Sign() == 1). */
export function limitedEmptyDirs(pod: Pod, volumePath: (name: string) => string): LimitedEmptyDir[] {
  const out: LimitedEmptyDir[] = [];
  for (const v of pod.spec.volumes ?? []) {
    const e = v.emptyDir;
    if (!e || e.medium === 'Memory' || e.sizeLimit === undefined) continue;
    const limitBytes = quantityBytes(e.sizeLimit);
    if (limitBytes > 0) out.push({ name: v.name, path: volumePath(v.name), limitBytes, limit: e.sizeLimit });
  }
  return out;
}

/** The eviction message when one of `dirs` is over its limit, else undefined. */
export function emptyDirOverLimit(dirs: LimitedEmptyDir[], usage = diskUsage): string | undefined {
  for (const d of dirs) {
    if (usage(d.path) > d.limitBytes) return emptyDirMessage(d.name, d.limit);
  }
  return undefined;
}

/** helpers.go emptyDirMessageFmt: "Usage of EmptyDir volume %q exceeds the limit %q. " */
export function emptyDirMessage(volume: string, limit: string): string {
  const q = (s: string) => JSON.stringify(s);
  return `Usage of EmptyDir volume ${q(volume)} exceeds the limit ${q(canonicalQuantity(limit))}. `;
}

/** Bytes allocated below `root` (du -s), bounded by `limit` entries; 0 when it cannot be read. */
export function diskUsage(root: string, limit = WALK_LIMIT): number {
  let rootDev: number;
  try {
    rootDev = lstatSync(root).dev;
  } catch {
    return 0;
  }
  const seen = new Set<string>();
  let total = 0;
  let entries = 0;
  const stack = [root];
  while (stack.length && entries < limit) {
    const dir = stack.pop()!;
    let d;
    try {
      d = opendirSync(dir);
    } catch {
      continue; // unreadable (another id's private directory): not counted, as du reports and goes on
    }
    try {
      for (let e = d.readSync(); e && entries < limit; e = d.readSync()) {
        entries++;
        const p = join(dir, e.name);
        let st;
        try {
          st = lstatSync(p);
        } catch {
          continue;
        }
        if (st.dev !== rootDev) continue;
        if (st.nlink > 1 && !st.isDirectory()) {
          const key = `${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.blocks * 512;
        if (st.isDirectory()) stack.push(p);
      }
    } finally {
      d.closeSync();
    }
  }
  return total;
}
