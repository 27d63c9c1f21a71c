import {
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  chmodSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Parser, type ReadEntry } from 'tar';
import { PodboxError, errnoOf } from '../errors.js';

/**
 * Applies one image layer (a tar changeset, https://github.com/opencontainers/image-spec/blob/main/layer.md)
 * onto a root filesystem directory, writing every file itself so that no entry can reach outside
 * the root: paths are cleaned and must stay inside, and the parents of an entry are walked one
 * component at a time with lstat, refusing any symlink on the way. A symlink *entry* may point
 * anywhere (`bin/sh -> busybox`, `etc/mtab -> /proc/mounts`): it is created, never followed.
 * Files are created with O_EXCL|O_NOFOLLOW after removing whatever was there, as Docker's
 * UnpackLayer (moby pkg/archive/diff.go) replaces paths.
 *
 * Whiteouts as the spec says: `.wh.NAME` deletes NAME of the layers below, `.wh..wh..opq` empties
 * its directory of everything the layers below put there; neither is written to the rootfs.
 * (Over 400 lines: each entry type's safe write is here together, so the path checks are in one file.)
 */

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** Compression by magic bytes, as containerd's compression.DetectCompression does. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

export interface LayerOptions {
  /** the layer as errors name it, e.g. `blobs/sha256/ab12…` */
  name: string;
  /**
   * Tolerate EPERM/EINVAL from chown: for an unprivileged process outside a user namespace (unit
   * tests) or a user namespace with a single id. Everything else fails on a chown that fails.
   */
  ignoreChownErrors?: boolean;
  /**
   * Unpack the layer on its own (layer-links.ts): whiteouts, opaque markers and hardlinks to files
   * of the layers below are recorded here instead of applied, to be applied when an image's rootfs
   * is stacked from its layers.
   */
  marks?: LayerMarks;
}

/** What a layer unpacked on its own keeps aside: paths relative to the root, cleaned. */
export interface LayerMarks {
  /** `.wh.NAME` entries: NAME of the layers below is deleted */
  whiteouts: string[];
  /** directories with `.wh..wh..opq`: emptied of what the layers below put there ('' is the root) */
  opaque: string[];
  /** [path, target] hardlinks whose target is not in this layer (a file of a layer below) */
  links: [string, string][];
}

export interface LayerStats {
  /** device nodes not created (a user namespace cannot mknod; rootless podman skips them too) */
  skippedDevices: string[];
  /** entries of types podbox does not write (sparse files, sockets…) */
  skippedOther: string[];
  /** chowns that failed and were tolerated (ignoreChownErrors) */
  chownFailures: number;
}

export interface LayerResult extends LayerStats {
  /** sha256 of the uncompressed tar: the layer's diff id */
  diffId: string;
  /** sha256 of the bytes as stored (compressed or not) */
  digest: string;
}

export function unsafeLayer(layer: string, entry: string, why: string): PodboxError {
  return new PodboxError(
    'UnsafeLayer',
    `layer ${layer}: entry "${entry}" ${why}`,
    'podbox refuses this image (nothing of it was kept); rebuild it from a trusted source',
  );
}

function invalidLayer(layer: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidImage',
    `layer ${layer}: ${why}`,
    'the image archive is damaged or truncated; save or download it again',
  );
}

/**
 * Cleans a tar path to a path relative to the root ('' is the root itself). Absolute paths and
 * paths whose `..` climb above the root are refused; `a/../b` is `b`.
 */
export function cleanEntryPath(p: string, layer: string, what = 'path'): string {
  if (p.startsWith('/')) throw unsafeLayer(layer, p, `has an absolute ${what}`);
  if (p.includes('\0')) throw unsafeLayer(layer, p, `has a NUL byte in its ${what}`);
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw unsafeLayer(layer, p, `has a ${what} that escapes the root with ".."`);
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join('/');
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Writes the entries of one layer, in order, into `root`. One instance per layer. */
export class LayerWriter {
  readonly stats: LayerStats = { skippedDevices: [], skippedOther: [], chownFailures: 0 };
  /** paths this layer wrote, and their ancestors: an opaque whiteout keeps these */
  private readonly written = new Set<string>();
  /** directory mtimes, set at the end: adding entries to a directory changes its mtime */
  private readonly dirTimes = new Map<string, Date>();
  /** directories walked and found real in this layer; forgotten whenever anything is removed */
  private readonly dirs = new Set<string>();
  private failed: unknown;
  private open: { fd: number; rel: string } | undefined;

  constructor(
    readonly root: string,
    readonly opts: LayerOptions,
  ) {}

  get error(): unknown {
    return this.failed;
  }

  /** The tar parser's `entry` handler. Synchronous, so entries are applied strictly in order. */
  entry(e: ReadEntry): void {
    if (this.failed) {
      e.resume();
      return;
    }
    try {
      this.apply(e);
    } catch (err) {
      this.fail(err);
      e.resume();
    }
  }

  private fail(err: unknown): void {
    if (!this.failed) this.failed = err;
    if (this.open) {
      try {
        closeSync(this.open.fd);
      } catch {
        // already failing
      }
      this.open = undefined;
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  private markWritten(rel: string): void {
    let r = rel;
    while (r !== '' && !this.written.has(r)) {
      this.written.add(r);
      const i = r.lastIndexOf('/');
      r = i < 0 ? '' : r.slice(0, i);
    }
  }

  /**
   * Walks `rel`'s directories from the root without following anything: each component must be
   * a real directory (created 0755 when missing and `create`), never a symlink. Returns false when
   * a component is missing and `create` is false.
   */
  private walkDirs(entry: string, rel: string, create: boolean): boolean {
    if (rel === '') return true;
    let cur = '';
    for (const part of rel.split('/')) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.dirs.has(cur)) continue;
      const st = lstatOrUndefined(this.abs(cur));
      if (!st) {
        if (!create) return false;
        mkdirSync(this.abs(cur), 0o755);
        chmodSync(this.abs(cur), 0o755);
      } else if (st.isSymbolicLink()) {
        throw unsafeLayer(this.opts.name, entry, `would be written through the symlink "${cur}"`);
      } else if (!st.isDirectory()) {
        throw invalidLayer(this.opts.name, `entry "${entry}": "${cur}" is not a directory`);
      }
      this.dirs.add(cur);
    }
    return true;
  }

  /** rm -rf without following symlinks; what was walked before may be gone now. */
  private remove(path: string): void {
    this.dirs.clear();
    rmSync(path, { recursive: true, force: true });
  }

  private chown(path: string, uid: number | undefined, gid: number | undefined, fd?: number): void {
    const u = uid ?? 0,
      g = gid ?? 0;
    try {
      if (fd !== undefined) fchownSync(fd, u, g);
      else lchownSync(path, u, g);
    } catch (e) {
      const code = errnoOf(e);
      if (this.opts.ignoreChownErrors && (code === 'EPERM' || code === 'EINVAL')) {
        this.stats.chownFailures++;
        return;
      }
      throw new PodboxError(
        'HostNotReady',
        `layer ${this.opts.name}: cannot give ${path.slice(this.root.length + 1) || '/'} the owner ${u}:${g} (${code})`,
        'pods need a subordinate id range for ids above 0: run `podbox doctor`',
      );
    }
  }

  private apply(e: ReadEntry): void {
    const layer = this.opts.name;
    const rel = cleanEntryPath(e.path, layer);
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    const base = slash < 0 ? rel : rel.slice(slash + 1);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      e.resume();
      this.whiteout(e.path, parent, base);
      return;
    }

    if (rel === '') {
      // The root itself ("./"): only its metadata, as Docker applies it.
      if (e.type !== 'Directory') throw unsafeLayer(layer, e.path, `replaces the root with a ${e.type}`);
      e.resume();
      this.chown(this.root, e.uid, e.gid);
      chmodSync(this.root, (e.mode ?? 0o755) & 0o7777);
      if (e.mtime) this.dirTimes.set('', e.mtime);
      return;
    }

    this.walkDirs(e.path, parent, true);
    const target = this.abs(rel);
    const type = e.type === 'OldFile' && e.path.endsWith('/') ? 'Directory' : e.type;
    const existing = lstatOrUndefined(target);
    // Docker: "If path exits we almost always just want to remove and replace it. The only
    // exception is when it is a directory *and* the file from the layer is also a directory."
    if (existing && !(existing.isDirectory() && (type === 'Directory' || type === 'GNUDumpDir'))) {
      this.remove(target);
    }

    switch (type) {
      case 'Directory':
      case 'GNUDumpDir':
        e.resume();
        if (!existing || !existing.isDirectory()) mkdirSync(target, 0o700);
        this.chown(target, e.uid, e.gid);
        chmodSync(target, (e.mode ?? 0o755) & 0o7777);
        if (e.mtime) this.dirTimes.set(rel, e.mtime);
        break;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        this.file(e, rel, target);
        break;
      case 'SymbolicLink':
        e.resume();
        symlinkSync(e.linkpath ?? '', target);
        this.chown(target, e.uid, e.gid);
        if (e.mtime) lutimesSync(target, e.mtime, e.mtime);
        break;
      case 'Link':
        e.resume();
        this.hardlink(e, target);
        break;
      case 'FIFO':
        e.resume();
        this.fifo(e, rel, target);
        break;
      case 'CharacterDevice':
      case 'BlockDevice':
        e.resume();
        this.stats.skippedDevices.push(rel);
        return;
      default:
        e.resume();
        this.stats.skippedOther.push(`${rel} (${e.type})`);
        return;
    }
    this.markWritten(rel);
  }

  /** A hardlink to an entry already written, inside the root and never to a directory. */
  private hardlink(e: ReadEntry, target: string): void {
    const layer = this.opts.name;
    const to = cleanEntryPath(e.linkpath ?? '', layer, 'hardlink target');
    if (to === '') throw unsafeLayer(layer, e.path, 'is a hardlink to the root');
    const toSlash = to.lastIndexOf('/');
    const missing = () => invalidLayer(layer, `entry "${e.path}": hardlink target "${e.linkpath}" does not exist`);
    const st = this.walkDirs(e.path, toSlash < 0 ? '' : to.slice(0, toSlash), false)
      ? lstatOrUndefined(this.abs(to))
      : undefined;
    if (!st && this.opts.marks) {
      // A layer on its own: the target may be a file of a layer below, linked when stacked.
      this.opts.marks.links.push([cleanEntryPath(e.path, layer), to]);
      return;
    }
    if (!st) throw missing();
    if (st.isDirectory()) throw unsafeLayer(layer, e.path, `is a hardlink to the directory "${e.linkpath}"`);
    // link(2) does not follow a symlink target: the new name shares the symlink's inode.
    linkSync(this.abs(to), target);
  }

  private file(e: ReadEntry, rel: string, target: string): void {
    const fd = openSync(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    this.open = { fd, rel };
    e.on('data', (chunk: Buffer) => {
      if (this.failed) return;
      try {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      } catch (err) {
        this.fail(err);
      }
    });
    e.on('end', () => {
      if (this.failed) return;
      try {
        // chown before chmod: chown clears the set-user-ID and set-group-ID bits.
        this.chown(target, e.uid, e.gid, fd);
        fchmodSync(fd, (e.mode ?? 0o644) & 0o7777);
        if (e.mtime) futimesSync(fd, e.mtime, e.mtime);
        closeSync(fd);
        this.open = undefined;
      } catch (err) {
        this.fail(err);
      }
    });
  }

  private fifo(e: ReadEntry, rel: string, target: string): void {
    // Node has no mkfifo(3); coreutils' mkfifo(1) makes it at the path walked above.
    try {
      execFileSync('mkfifo', ['-m', ((e.mode ?? 0o644) & 0o7777).toString(8), '--', target], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch {
      this.stats.skippedOther.push(`${rel} (FIFO: mkfifo failed)`);
      return;
    }
    this.chown(target, e.uid, e.gid);
    if (e.mtime) utimesSync(target, e.mtime, e.mtime);
  }

  private whiteout(entry: string, parent: string, base: string): void {
    const layer = this.opts.name;
    const marks = this.opts.marks;
    if (marks) {
      // A layer on its own: what is below is not here; the marks are applied when stacking.
      if (base === OPAQUE) {
        this.walkDirs(entry, parent, true);
        marks.opaque.push(parent);
        return;
      }
      if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return;
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === '' || name === '.' || name === '..') throw unsafeLayer(layer, entry, 'is a whiteout of no file');
      this.walkDirs(entry, parent, false); // refuses a whiteout through a symlink of this layer
      marks.whiteouts.push(parent ? `${parent}/${name}` : name);
      return;
    }
    if (!this.walkDirs(entry, parent, false)) return; // nothing below to hide
    const dir = this.abs(parent);
    if (base === OPAQUE) {
      for (const name of readdirSync(dir)) {
        const rel = parent ? `${parent}/${name}` : name;
        if (!this.written.has(rel)) this.remove(`${dir}/${name}`);
      }
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // other AUFS metadata: skipped, as Docker does
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw unsafeLayer(layer, entry, 'is a whiteout of no file');
    // rm of a symlink removes the link, never what it points to.
    this.remove(`${dir}/${name}`);
  }

  /** Called after the last entry: sets directory times and checks nothing is left open. */
  finish(): void {
    if (this.failed) throw this.failed;
    if (this.open) throw invalidLayer(this.opts.name, `entry "${this.open.rel}" is truncated`);
    for (const [rel, t] of this.dirTimes) {
      try {
        utimesSync(this.abs(rel), t, t);
      } catch (e) {
        // The directory may have been replaced later in the layer.
        if (errnoOf(e) !== 'ENOENT' && errnoOf(e) !== 'ENOTDIR') throw e;
      }
    }
  }
}

/**
 * Applies an uncompressed tar stream onto `root`; returns the sha256 of every byte read (the
 * layer's diff id when the stream is the whole layer).
 */
export async function applyTarStream(
  root: string,
  source: AsyncIterable<Buffer>,
  opts: LayerOptions,
): Promise<{ diffId: string; stats: LayerStats }> {
  const writer = new LayerWriter(root, opts);
  const hash = createHash('sha256');
  let parseError: unknown;
  let allZero = true;
  const parser = new Parser({ strict: false, zstd: false, brotli: false });
  parser.on('entry', (e: ReadEntry) => writer.entry(e));
  parser.on('ignoredEntry', (e: ReadEntry) => {
    if (!e.meta) writer.stats.skippedOther.push(`${e.path} (${e.type})`);
  });
  parser.on('warn', (code: string, message: string) => {
    // An archive of only zero blocks (or nothing) is an empty layer, which builders do produce.
    if (code === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(message) && allZero) return;
    parseError ??= invalidLayer(opts.name, `not a valid tar archive (${message})`);
  });
  parser.on('error', (e: Error) => {
    parseError ??= invalidLayer(opts.name, `not a valid tar archive (${e.message})`);
  });
  const done = new Promise<void>((resolve) => parser.on('end', () => resolve()));
  for await (const chunk of source) {
    hash.update(chunk);
    if (allZero && chunk.some((b) => b !== 0)) allZero = false;
    parser.write(chunk);
    if (writer.error) throw writer.error;
    if (parseError) throw parseError;
  }
  parser.end();
  await done;
  if (writer.error) throw writer.error;
  if (parseError) throw parseError;
  writer.finish();
  return { diffId: `sha256:${hash.digest('hex')}`, stats: writer.stats };
}

/**
 * The tar bytes of a layer stream compressed with gzip, zstd or nothing (by its magic bytes, as
 * containerd's compression.DecompressStream decides). zstd is decoded by fzstd: Node 20's zlib has
 * none. Its ondata hands out views of the decoder's window, so each block is copied before it is
 * yielded.
 */
export async function* decompressedLayer(source: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head: Buffer = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = head.length ? Buffer.concat([head, r.value]) : r.value;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const compression = detectCompression(head);
  if (compression === 'none') {
    yield* rest();
    return;
  }
  if (compression === 'gzip') {
    const noop = () => {};
    yield* pipeline(Readable.from(rest(), { objectMode: false }), createGunzip({ chunkSize: 1 << 18 }), noop);
    return;
  }
  if (compression === 'zstd') {
    const { Decompress } = await import('fzstd');
    const out: Buffer[] = [];
    const d = new Decompress((chunk) => {
      if (chunk.length) out.push(Buffer.from(chunk));
    });
    try {
      for await (const c of rest()) {
        d.push(c);
        while (out.length) yield out.shift()!;
      }
      d.push(new Uint8Array(0), true);
    } catch (e) {
      if (e instanceof PodboxError) throw e;
      throw invalidLayer(name, `not valid zstd data, probably truncated (${(e as Error).message})`);
    }
    while (out.length) yield out.shift()!;
    return;
  }
  throw new PodboxError(
    'InvalidImage',
    `layer ${name} is compressed with ${compression}, which podbox does not support`,
    'use an image with gzip, zstd or uncompressed layers (e.g. `skopeo copy --dest-compress-format gzip`)',
  );
}

/** A gzip failure as the damaged layer it means. */
function asLayerError(e: unknown, name: string): unknown {
  if (e instanceof PodboxError) return e;
  const code = errnoOf(e);
  if (code?.startsWith('Z_') || /unexpected end of file|incorrect header check|invalid/.test((e as Error).message)) {
    return invalidLayer(name, `not valid gzip data, probably truncated (${(e as Error).message})`);
  }
  return e;
}

/**
 * Applies a compressed or plain layer stream onto `root` (the caller checks the stream's digest:
 * a pulled blob is verified as it is downloaded).
 */
export async function applyLayerStream(
  root: string,
  source: AsyncIterable<Buffer>,
  opts: LayerOptions,
): Promise<{ diffId: string; stats: LayerStats }> {
  try {
    return await applyTarStream(root, decompressedLayer(source, opts.name), opts);
  } catch (e) {
    throw asLayerError(e, opts.name);
  }
}

/**
 * Applies a layer file (tar, tar+gzip or tar+zstd, by magic bytes) onto `root`. With `digest`, the
 * file's own sha256 must match it (an OCI blob); the result's diffId is for the caller to check
 * against the config's rootfs.diff_ids.
 */
export async function applyLayerFile(
  root: string,
  file: string,
  opts: LayerOptions & { digest?: string },
): Promise<LayerResult> {
  try {
    closeSync(openSync(file, 'r'));
  } catch (e) {
    throw invalidLayer(opts.name, `cannot be read (${(e as Error).message})`);
  }
  const rawHash = createHash('sha256');
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      rawHash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  const result = await applyLayerStream(root, hashed(), opts);
  const digest = `sha256:${rawHash.digest('hex')}`;
  if (opts.digest && opts.digest !== digest) {
    throw new PodboxError(
      'InvalidImage',
      `blob ${opts.name} has digest ${digest}, not the ${opts.digest} its manifest names`,
      'the image archive is damaged or was tampered with; save or download it again',
    );
  }
  return { ...result, ...result.stats, digest };
}
