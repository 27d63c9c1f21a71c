import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { PODBOX } from './cli.js';

/**
 * Builds image archives for tests, byte by byte: a small ustar/pax writer (so a test can put any
 * entry in a layer, including the hostile ones a real tar tool would refuse to write), and the
 * docker-archive (`docker save`), OCI image layout and OCI archive formats around it.
 */

export interface FileSpec {
  path: string;
  /** a regular file with this content */
  content?: string | Buffer;
  /** a symlink to this target */
  symlink?: string;
  /** a hardlink to this (archive) path */
  link?: string;
  dir?: boolean;
  fifo?: boolean;
  device?: 'char' | 'block';
  mode?: number;
  uid?: number;
  gid?: number;
  /** seconds since the epoch (default 1700000000) */
  mtime?: number;
}

export interface LayerSpec {
  files: FileSpec[];
  gzip?: boolean;
  /** the exact layer bytes, instead of files */
  raw?: Buffer;
  /** replaces the bytes stored in the archive after every digest is computed (to damage them) */
  damage?: (stored: Buffer) => Buffer;
}

export interface ImageSpec {
  /** full or short references: `busybox:1`, `localhost/x:y` */
  tags?: string[];
  layers: LayerSpec[];
  /** the `config` part (Cmd, Env…) */
  config?: Record<string, unknown>;
  created?: string;
  architecture?: string;
  os?: string;
  /** replaces rootfs.diff_ids (to make a mismatch) */
  diffIds?: string[];
}

export interface BuiltLayer {
  bytes: Buffer;
  /** sha256 of the bytes as stored */
  digest: string;
  /** sha256 of the uncompressed tar */
  diffId: string;
  mediaType: string;
}

export interface BuiltImage {
  /** sha256 of the config: the image id */
  id: string;
  configBytes: Buffer;
  layers: BuiltLayer[];
  manifestBytes: Buffer;
  manifestDigest: string;
  tags: string[];
}

export const DEFAULT_MTIME = 1_700_000_000;
export const DEFAULT_CREATED = '2024-01-02T03:04:05Z';

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string) => d.slice('sha256:'.length);

// --- tar ---

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  return `${total}${body}`;
}

interface RawHeader {
  path: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
}

function headerBlock(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.path.slice(0, 100), 0, 100, 'utf8');
  b.write(octal(h.mode & 0o7777, 8), 100, 8, 'latin1');
  b.write(octal(Math.min(h.uid, 0o7777777), 8), 108, 8, 'latin1');
  b.write(octal(Math.min(h.gid, 0o7777777), 8), 116, 8, 'latin1');
  b.write(octal(h.size, 12), 124, 12, 'latin1');
  b.write(octal(h.mtime, 12), 136, 12, 'latin1');
  b.write('        ', 148, 8, 'latin1');
  b.write(h.type, 156, 1, 'latin1');
  if (h.linkpath) b.write(h.linkpath.slice(0, 100), 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  b.write('root', 265, 32, 'latin1');
  b.write('root', 297, 32, 'latin1');
  b.write(octal(h.devmajor ?? 0, 8), 329, 8, 'latin1');
  b.write(octal(h.devminor ?? 0, 8), 337, 8, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rem)]);
}

/** An uncompressed tar of these entries, in order, with pax headers for long names and big ids. */
export function tarBytes(files: FileSpec[], opts: { eof?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const f of files) {
    const data = f.content === undefined ? Buffer.alloc(0) : Buffer.from(f.content);
    const type = f.dir
      ? '5'
      : f.symlink !== undefined
        ? '2'
        : f.link !== undefined
          ? '1'
          : f.fifo
            ? '6'
            : f.device === 'char'
              ? '3'
              : f.device === 'block'
                ? '4'
                : '0';
    const linkpath = f.symlink ?? f.link;
    const h: RawHeader = {
      path: f.path,
      type,
      size: type === '0' ? data.length : 0,
      mode: f.mode ?? (f.dir ? 0o755 : f.symlink !== undefined ? 0o777 : 0o644),
      uid: f.uid ?? 0,
      gid: f.gid ?? 0,
      mtime: f.mtime ?? DEFAULT_MTIME,
      linkpath,
      devmajor: f.device ? 1 : 0,
      devminor: f.device ? 3 : 0,
    };
    let pax = '';
    if (Buffer.byteLength(h.path) > 100) pax += paxRecord('path', h.path);
    if (linkpath && Buffer.byteLength(linkpath) > 100) pax += paxRecord('linkpath', linkpath);
    if (h.uid > 0o7777777) pax += paxRecord('uid', String(h.uid));
    if (h.gid > 0o7777777) pax += paxRecord('gid', String(h.gid));
    if (pax) {
      const pb = Buffer.from(pax);
      out.push(
        headerBlock({ path: 'PaxHeader', type: 'x', size: pb.length, mode: 0o644, uid: 0, gid: 0, mtime: h.mtime }),
        pad(pb),
      );
    }
    out.push(headerBlock(h));
    if (type === '0') out.push(pad(data));
  }
  if (opts.eof !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

// --- images ---

function buildLayer(l: LayerSpec): BuiltLayer {
  const tar = l.raw ?? tarBytes(l.files);
  const bytes = l.gzip ? gzipSync(tar) : tar;
  return {
    bytes: l.damage ? l.damage(bytes) : bytes,
    digest: sha256(bytes),
    diffId: sha256(tar),
    mediaType: l.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
  };
}

export function buildImage(spec: ImageSpec): BuiltImage {
  const layers = spec.layers.map(buildLayer);
  const created = spec.created ?? DEFAULT_CREATED;
  const configDoc = {
    created,
    architecture: spec.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'amd64'),
    os: spec.os ?? 'linux',
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: spec.diffIds ?? layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created, created_by: 'test' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(configBytes),
      size: configBytes.length,
    },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    id: sha256(configBytes),
    configBytes,
    layers,
    manifestBytes,
    manifestDigest: sha256(manifestBytes),
    tags: spec.tags ?? [],
  };
}

/** A tar of named files (the outer archive), or with gzip a tar.gz. */
function writeOuter(path: string, files: FileSpec[], gzip?: boolean): void {
  const tar = tarBytes(files);
  writeFileSync(path, gzip ? gzipSync(tar) : tar);
}

export interface DockerArchiveOptions {
  /** `legacy`: `<id>/layer.tar` + `<hex>.json` (docker save before 25); `blobs`: docker 25+ (blobs/sha256, plus index.json) */
  format?: 'legacy' | 'blobs';
  /** gzip the whole archive (`docker save | gzip`) */
  gzip?: boolean;
  /** change one file of the archive after it is built: path → new bytes */
  override?: Record<string, Buffer>;
}

/** `docker save` of one or more images. Returns what it wrote, for exact assertions. */
export function writeDockerArchive(
  path: string,
  specs: ImageSpec | ImageSpec[],
  opts: DockerArchiveOptions = {},
): BuiltImage[] {
  const images = (Array.isArray(specs) ? specs : [specs]).map(buildImage);
  const files = new Map<string, Buffer>();
  const manifest = images.map((img) => {
    if (opts.format === 'blobs') {
      files.set(`blobs/sha256/${hex(img.id)}`, img.configBytes);
      for (const l of img.layers) files.set(`blobs/sha256/${hex(l.digest)}`, l.bytes);
      files.set(`blobs/sha256/${hex(img.manifestDigest)}`, img.manifestBytes);
      return {
        Config: `blobs/sha256/${hex(img.id)}`,
        RepoTags: img.tags,
        Layers: img.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      };
    }
    files.set(`${hex(img.id)}.json`, img.configBytes);
    const layerPaths = img.layers.map((l) => {
      const id = hex(sha256(`${img.id}/${l.digest}`));
      files.set(`${id}/layer.tar`, l.bytes);
      files.set(`${id}/VERSION`, Buffer.from('1.0'));
      return `${id}/layer.tar`;
    });
    return { Config: `${hex(img.id)}.json`, RepoTags: img.tags.length ? img.tags : null, Layers: layerPaths };
  });
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  if (opts.format === 'blobs') {
    files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    files.set(
      'index.json',
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: images.map((img) => ({
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: img.manifestDigest,
            size: img.manifestBytes.length,
          })),
        }),
      ),
    );
  }
  for (const [p, b] of Object.entries(opts.override ?? {})) files.set(p, b);
  writeOuter(
    path,
    [...files].map(([p, content]) => ({ path: p, content })),
    opts.gzip,
  );
  return images;
}

export interface OciOptions {
  /**
   * How tags are named in index.json: `full` (org.opencontainers.image.ref.name = the full
   * reference, as skopeo/podman write it), `containerd` (io.containerd.image.name = full and
   * ref.name = the tag, as containerd/docker 25 write it), `none` (no name).
   */
  naming?: 'full' | 'containerd' | 'none';
  /** put each image behind a nested image index with a second platform whose blobs are absent */
  nested?: boolean;
  override?: Record<string, Buffer>;
  /** leave these blob digests out of the layout */
  omit?: string[];
}

function ociFiles(images: BuiltImage[], opts: OciOptions): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const blob = (d: string, b: Buffer) => files.set(`blobs/sha256/${hex(d)}`, b);
  const manifests: Record<string, unknown>[] = [];
  for (const img of images) {
    blob(img.id, img.configBytes);
    for (const l of img.layers) blob(l.digest, l.bytes);
    blob(img.manifestDigest, img.manifestBytes);
    let desc: Record<string, unknown> = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: img.manifestDigest,
      size: img.manifestBytes.length,
    };
    if (opts.nested) {
      const other = {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256('absent'),
        size: 10,
        platform: { architecture: 'riscv64', os: 'linux' },
      };
      const mine = { ...desc, platform: { architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux' } };
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [other, mine],
        }),
      );
      blob(sha256(index), index);
      desc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length };
    }
    const naming = opts.naming ?? 'full';
    if (naming === 'none' || img.tags.length === 0) {
      manifests.push(desc);
    } else {
      for (const t of img.tags) {
        const annotations: Record<string, string> =
          naming === 'full'
            ? { 'org.opencontainers.image.ref.name': t }
            : { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': t.slice(t.lastIndexOf(':') + 1) };
        manifests.push({ ...desc, annotations });
      }
    }
  }
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  files.set(
    'index.json',
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })),
  );
  for (const d of opts.omit ?? []) files.delete(`blobs/sha256/${hex(d)}`);
  for (const [p, b] of Object.entries(opts.override ?? {})) files.set(p, b);
  return files;
}

/** An OCI image layout directory (oci-layout, index.json, blobs/sha256/…). */
export function writeOciLayout(dir: string, specs: ImageSpec | ImageSpec[], opts: OciOptions = {}): BuiltImage[] {
  const images = (Array.isArray(specs) ? specs : [specs]).map(buildImage);
  for (const [p, b] of ociFiles(images, opts)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), b);
  }
  return images;
}

/** A tar of an OCI image layout (`podman save --format oci-archive`, `skopeo copy oci-archive:`). */
export function writeOciArchive(path: string, specs: ImageSpec | ImageSpec[], opts: OciOptions = {}): BuiltImage[] {
  const images = (Array.isArray(specs) ? specs : [specs]).map(buildImage);
  writeOuter(
    path,
    [...ociFiles(images, opts)].map(([p, content]) => ({ path: p, content })),
  );
  return images;
}

// --- the busybox image other integration tests run ---

/** A root filesystem of Debian's busybox-static, a symlink per applet and a minimal /etc. */
export function makeBusyboxRootfs(dir: string): void {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => {
    try {
      execFileSync(p, ['true']);
      return true;
    } catch {
      return false;
    }
  });
  if (!busybox) throw new Error('busybox is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** Imports the busybox image into PODBOX_HOME=home under `name`; returns the image id. */
export async function buildBusyboxImage(home: string, name = 'localhost/busybox:test'): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'podbox-busybox-'));
  try {
    makeBusyboxRootfs(root);
    const r = await execa(
      PODBOX,
      ['image', 'import', root, name, '--change', 'CMD=["sh"]', '--change', 'ENV=PATH=/bin'],
      { env: { PODBOX_HOME: home, PODBOX_QUIET_IDMAP: '1' }, reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`podbox image import failed: ${r.stderr}`);
    return String(r.stdout).trim();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
