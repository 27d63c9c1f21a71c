import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerMarks, LayerStats } from './layer.js';
import { LAYER_DIFF, RootfsStacker, readLayerMeta, writeLayerMeta, type LayerMeta } from './layer-links.js';
import type { FollowedBlob } from './blob-follow.js';
import { PodboxError, isPodboxError, errnoOf } from '../errors.js';

/**
 * The jobs of the unpack worker (unpack-worker.ts). Rootless, they run as root of a user namespace
 * with the pod id mapping (sandbox/userns.ts), so that image files get the owners a pod sees and
 * trees owned by subordinate ids can be deleted; as real root they run in-process (store.ts,
 * runJob). Everything here is plain JSON in and out.
 */

export type LayerSource =
  /** a layer file (tar or tar+gzip); `digest` is the blob digest it must have */
  | { kind: 'file'; file: string; name: string; digest?: string }
  /** a directory, taken whole as one layer (`podbox image import DIR`) */
  | { kind: 'dir'; dir: string; name: string }
  /** a registry blob read while it downloads (blob-follow.ts); its digest is checked by the download */
  | ({ kind: 'blob' } & FollowedBlob);

/**
 * Where layer i of an unpack lives (layer-store.ts): `have`, a layer of the store, read as it is;
 * otherwise a new directory to unpack layers[i] into, moved into the store by the caller.
 */
export interface LayerDir {
  dir: string;
  have: boolean;
}

export type UnpackJob =
  | {
      op: 'unpack';
      rootfs: string;
      layers: LayerSource[];
      layerDirs: LayerDir[];
      result?: string;
      ignoreChownErrors?: boolean;
    }
  | { op: 'rm'; paths: string[] };

export interface UnpackResult {
  diffIds: string[];
  /** bytes of regular files in the flattened rootfs, each inode once */
  size: number;
  skippedDevices: string[];
  skippedOther: string[];
  chownFailures: number;
}

/** Bytes of regular files under `root`, hardlinks counted once (as `du --apparent-size` of files). */
export function treeSize(root: string): number {
  const seen = new Set<number>();
  let size = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = `${dir}/${name}`;
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        if (st.nlink > 1) {
          if (seen.has(st.ino)) continue;
          seen.add(st.ino);
        }
        size += st.size;
      }
    }
  };
  walk(root);
  return size;
}

async function applySource(
  rootfs: string,
  l: LayerSource,
  ignoreChownErrors: boolean,
  marks: LayerMarks,
): Promise<{ diffId: string; stats: LayerStats }> {
  // The tar library is loaded here, not with this module: the store (on `podbox run`'s path) imports
  // this module for its error codec, and loading tar costs a run ~14 ms of CPU even from the code cache.
  const [{ applyLayerFile, applyTarStream }, { tarDirectory }] = await Promise.all([
    import('./layer.js'),
    import('./dir-tar.js'),
  ]);
  if (l.kind === 'blob') {
    const [{ applyLayerStream }, { followBlob }] = await Promise.all([
      import('./layer.js'),
      import('./blob-follow.js'),
    ]);
    return applyLayerStream(rootfs, followBlob(l), { name: l.name, ignoreChownErrors, marks });
  }
  if (l.kind === 'file') {
    const r = await applyLayerFile(rootfs, l.file, { name: l.name, digest: l.digest, ignoreChownErrors, marks });
    return { diffId: r.diffId, stats: r };
  }
  // The directory is read as this process sees it: inside the user namespace a file of the
  // invoking user is owned by 0, which is what the image should say.
  return applyTarStream(rootfs, tarDirectory(l.dir), { name: l.name, ignoreChownErrors, marks });
}

export async function runUnpackJob(job: UnpackJob): Promise<UnpackResult | undefined> {
  if (job.op === 'rm') {
    for (const p of job.paths) rmSync(p, { recursive: true, force: true });
    return undefined;
  }
  if (job.op !== 'unpack') throw new PodboxError('InvalidArgument', `unknown unpack job ${(job as { op: string }).op}`);
  const out: UnpackResult = { diffIds: [], size: 0, skippedDevices: [], skippedOther: [], chownFailures: 0 };
  const stacker = new RootfsStacker(job.rootfs, !!job.ignoreChownErrors);
  for (const [i, l] of job.layers.entries()) {
    const { dir, have } = job.layerDirs[i]!;
    let meta: LayerMeta;
    if (have) {
      meta = readLayerMeta(dir);
    } else {
      // A new layer: unpacked on its own, then stacked like a stored one.
      const diff = join(dir, LAYER_DIFF);
      mkdirSync(diff, { recursive: true });
      // Whatever the umask: a layer without a "./" entry leaves the root as a layer's directories default.
      chmodSync(diff, 0o755);
      const marks: LayerMarks = { whiteouts: [], opaque: [], links: [] };
      const { diffId, stats } = await applySource(diff, l, !!job.ignoreChownErrors, marks);
      out.skippedDevices.push(...stats.skippedDevices);
      out.skippedOther.push(...stats.skippedOther);
      out.chownFailures += stats.chownFailures;
      meta = { diffId, size: treeSize(diff), ...marks };
      writeLayerMeta(dir, meta);
    }
    out.diffIds.push(meta.diffId);
    stacker.apply(dir, meta);
  }
  out.chownFailures += stacker.chownFailures;
  out.size = treeSize(job.rootfs);
  if (job.result) writeFileSync(job.result, JSON.stringify(out));
  return out;
}

/** How the worker reports a failure on its last stderr line, and how the store reads it back. */
export const ERROR_MARK = 'podbox-unpack-error:';

/** A failure of a job as the PodboxError the user sees: a system error is the host's. */
export function asPodboxError(e: unknown): PodboxError {
  if (isPodboxError(e)) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (errnoOf(e))
    return new PodboxError(
      'HostNotReady',
      `cannot unpack the image: ${msg}`,
      'check the space and permissions of the image store (PODBOX_HOME)',
    );
  return new PodboxError(
    'InvalidImage',
    `cannot unpack the image: ${msg}`,
    'the image may be damaged; save or download it again',
  );
}

export function encodeError(e: unknown): string {
  const err = asPodboxError(e);
  return ERROR_MARK + JSON.stringify({ code: err.code, message: err.message, hint: err.hint });
}

export function decodeError(line: string): PodboxError | undefined {
  const i = line.indexOf(ERROR_MARK);
  if (i < 0) return undefined;
  try {
    const o = JSON.parse(line.slice(i + ERROR_MARK.length)) as {
      code: PodboxError['code'];
      message: string;
      hint?: string;
    };
    return new PodboxError(o.code, o.message, o.hint);
  } catch {
    return undefined;
  }
}
