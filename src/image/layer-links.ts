import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../errors.js';
import type { LayerMarks } from './layer.js';

/**
 * An image's rootfs stacked from its shared layers by hard links (the worker's side of
 * layer-store.ts). Each layer is unpacked once, on its own, into `<layer>/diff` with its whiteouts,
 * opaque markers and links to lower files kept aside in `<layer>/layer.json`; an image's rootfs is
 * then made by applying its layers in order, every non-directory a hard link to the layer's inode
 * and every directory a directory of its own. This is how moby's first overlay driver
 * (daemon/graphdriver/overlay/overlay.go, copyDir with hard links) shared lower layers while
 * mounting one lowerdir: the container's overlay mount and its speed are unchanged, a file shared by
 * ten images is stored once, and whiteouts never reach the rootfs (so they need neither mknod nor
 * overlay xattrs, which depend on the kernel and on whether podbox runs as root).
 *
 * Every path is walked from the rootfs without following a symlink: a lower layer's `etc -> /`
 * cannot make an upper layer's whiteout of `etc/passwd` delete the host's file.
 */

export const LAYER_DIFF = 'diff';
export const LAYER_META = 'layer.json';

export interface LayerMeta extends LayerMarks {
  diffId: string;
  /** bytes of regular files in the layer, each inode once */
  size: number;
}

export function readLayerMeta(layerDir: string): LayerMeta {
  return JSON.parse(readFileSync(join(layerDir, LAYER_META), 'utf8')) as LayerMeta;
}

export function writeLayerMeta(layerDir: string, meta: LayerMeta): void {
  writeFileSync(join(layerDir, LAYER_META), `${JSON.stringify(meta)}\n`, { mode: 0o644 });
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** `root/rel` when every component of rel is a real directory (no symlink, nothing missing). */
function realDir(root: string, rel: string): string | undefined {
  let cur = root;
  for (const part of rel ? rel.split('/') : []) {
    cur = `${cur}/${part}`;
    if (!lstatOrUndefined(cur)?.isDirectory()) return undefined;
  }
  return cur;
}

function splitRel(rel: string): [string, string] {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

export class RootfsStacker {
  /** owner changes refused and tolerated (a user namespace without a full subordinate range) */
  chownFailures = 0;

  constructor(
    readonly rootfs: string,
    readonly ignoreChownErrors: boolean,
  ) {}

  /** Applies one layer: first what it hides of the layers below, then its files, then its lower links. */
  apply(layerDir: string, meta: LayerMarks): void {
    for (const dir of meta.opaque) {
      const d = realDir(this.rootfs, dir);
      if (d) for (const n of readdirSync(d)) rmSync(`${d}/${n}`, { recursive: true, force: true });
    }
    for (const w of meta.whiteouts) {
      const [parent, name] = splitRel(w);
      const d = realDir(this.rootfs, parent);
      if (d) rmSync(`${d}/${name}`, { recursive: true, force: true });
    }
    this.merge(join(layerDir, LAYER_DIFF), this.rootfs);
    for (const [path, target] of meta.links) {
      const [tp, tn] = splitRel(target);
      const [pp, pn] = splitRel(path);
      const from = realDir(this.rootfs, tp);
      const to = realDir(this.rootfs, pp);
      const st = from && lstatOrUndefined(`${from}/${tn}`);
      if (!st || st.isDirectory() || !to) continue; // the target is in no layer: nothing to link
      rmSync(`${to}/${pn}`, { recursive: true, force: true });
      linkSync(`${from}/${tn}`, `${to}/${pn}`);
    }
  }

  /** Merges directory `src` of a layer into `dst` (a real directory of the rootfs). */
  private merge(src: string, dst: string): void {
    for (const name of readdirSync(src)) {
      const s = `${src}/${name}`;
      const d = `${dst}/${name}`;
      const st = lstatSync(s);
      const existing = lstatOrUndefined(d);
      // As a layer's own entries replace: a directory merges into a directory, anything else replaces.
      if (existing && !(existing.isDirectory() && st.isDirectory())) rmSync(d, { recursive: true, force: true });
      if (!st.isDirectory()) {
        linkSync(s, d);
        continue;
      }
      if (!existing?.isDirectory()) mkdirSync(d, 0o700);
      this.merge(s, d);
    }
    this.copyDirMeta(src, dst);
  }

  /** A directory's owner, mode and times, as the top layer that has it says (after its entries were added). */
  private copyDirMeta(src: string, dst: string): void {
    const st = lstatSync(src);
    try {
      lchownSync(dst, st.uid, st.gid);
    } catch (e) {
      if (!this.ignoreChownErrors || (errnoOf(e) !== 'EPERM' && errnoOf(e) !== 'EINVAL')) throw e;
      this.chownFailures++;
    }
    // chown before chmod: chown clears the set-group-ID bit.
    chmodSync(dst, st.mode & 0o7777);
    lutimesSync(dst, st.atime, st.mtime);
  }
}
