import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';

/**
 * The kubelet's atomic writer (pkg/volume/util/atomic_writer.go, AtomicWriter.Write), the layout of
 * every configMap, secret, downwardAPI and projected volume:
 *
 *   VOLUME/..2026_11_30_09_55_12.123456789/   the payload, files with their modes (dirs 0755)
 *   VOLUME/..data -> ..2026_11_30_09_55_12.123456789
 *   VOLUME/KEY    -> ..data/KEY                 one symlink per top-level name of the payload
 *
 * A reader sees the old payload or the new one, never a mix: the new one is written in a fresh
 * timestamped directory, and `..data` is switched to it by the rename of a new symlink over it
 * (`..data_tmp`), then the old directory is removed. The names a user sees never change target.
 */

/** One file of a payload: its path below the volume, its bytes, its mode. */
export interface PayloadFile {
  path: string;
  content: Buffer;
  mode: number;
}

const DATA_DIR = '..data';
const DATA_DIR_TMP = '..data_tmp';

/**
 * Writes `payload` into `dir` (which exists and only podbox writes in) as the atomic writer does.
 * Paths are checked again here (the manifest check refuses '..' and absolute paths as
 * validation.go validateLocalNonReservedPath does): a path that leaves the volume, or a name
 * starting with '..' (the writer's own), is an error naming the volume.
 */
export function writeAtomically(volume: string, dir: string, payload: PayloadFile[]): void {
  for (const f of payload) checkPath(volume, f.path);
  // Step 1: the payload, in a new timestamped directory (newTimestampDir: "..2006_01_02_15_04_05." + random).
  const ts = new Date().toISOString().replace(/[-T:]/g, '_').replace(/\..*$/, '');
  const tsDir = mkdtempSync(join(dir, `..${ts}.`));
  chmodSync(tsDir, 0o755);
  for (const f of payload) {
    const file = join(tsDir, f.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, f.content, { mode: f.mode });
    // The umask must not narrow the mode the manifest asked for (writePayloadToDir chmods too).
    chmodSync(file, f.mode);
  }
  // Step 2: ..data_tmp -> the new directory, renamed over ..data.
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, DATA_DIR));
  } catch {
    /* the first write */
  }
  rmSync(join(dir, DATA_DIR_TMP), { force: true });
  symlinkSync(relative(dir, tsDir), join(dir, DATA_DIR_TMP));
  renameSync(join(dir, DATA_DIR_TMP), join(dir, DATA_DIR));
  // Step 3: a user-visible symlink per top-level name (createUserVisibleFiles).
  for (const top of new Set(payload.map((f) => f.path.split('/')[0]!))) {
    const link = join(dir, top);
    let target: string | undefined;
    try {
      target = readlinkSync(link);
    } catch {
      /* not there yet */
    }
    if (target !== join(DATA_DIR, top)) symlinkSync(join(DATA_DIR, top), link);
  }
  // Step 4: names only the old payload had lose their symlink (removeUserVisiblePaths), then it goes.
  if (old && old !== relative(dir, tsDir) && old.startsWith('..')) {
    const tops = new Set(payload.map((f) => f.path.split('/')[0]!));
    for (const name of readdirSync(join(dir, old))) if (!tops.has(name)) rmSync(join(dir, name), { force: true });
  }
  if (old && old !== relative(dir, tsDir) && old.startsWith('..'))
    rmSync(join(dir, old), { recursive: true, force: true });
}

/**
 * A subPath of a volume the atomic writer made, as the path below the volume it leads to with no
 * symlink on the way: `KEY/...` is `..<timestamp>/KEY/...`. The kubelet follows the writer's
 * symlinks (subpath_linux.go doBindSubPath: EvalSymlinks, then a check that the result is within
 * the volume); here only podbox's own `..data` link is read, and the kernel resolves the rest
 * refusing any symlink, as for every subPath (subpath.ts). The volume is read-only to every
 * container, so nothing else can have planted one.
 */
export function payloadPath(dir: string, subPath: string): string {
  if (subPath.startsWith('..')) return subPath;
  try {
    return join(readlinkSync(join(dir, DATA_DIR)), subPath);
  } catch {
    return subPath;
  }
}

function checkPath(volume: string, path: string): void {
  const rel = relative('/v', join('/v', path));
  if (!path || isAbsolute(path) || !rel || rel.startsWith('..') || path.startsWith('..'))
    throw new Error(`volume "${volume}": item path "${path}" leaves the volume or is reserved`);
}
