import { statInput } from '../host/fs.js';
import { closeSync, createReadStream, openSync, readSync, statSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream';
import { join, posix } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { PodboxError } from '../errors.js';
import { detectCompression } from './layer.js';
import { parseReference, formatReference, repositoryOf, digestError } from './reference.js';
import { hostArchitecture } from './config.js';
import { readAtMost } from '../host/read-at-most.js';

/**
 * Reads what `podbox image load` is given: a docker-archive (`docker save`/`podman save`:
 * manifest.json with Config, RepoTags and Layers, both the legacy `<id>/layer.tar` layout and
 * docker 25's `blobs/sha256/…`), an OCI archive, or an OCI image-layout directory
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md). The outer archive is
 * only read, never extracted as such: each of its regular files is copied to a numbered scratch
 * file, so its own paths cannot point anywhere. Digests of configs and manifests are checked here;
 * layer blobs are checked as the worker applies them.
 * (Over 400 lines: docker-archive and OCI layouts share their blob checks, so both stay here.)
 */

export interface LayerToLoad {
  /** a file on disk holding the layer as stored */
  file: string;
  /** how errors name it: the path inside the archive */
  name: string;
  /** the blob digest it must have (OCI blobs), if known */
  digest?: string;
}

export interface ImageToLoad {
  /** full normalised tag references (`docker.io/library/busybox:latest`) */
  names: string[];
  /** `repository@manifest-digest` references (OCI only) */
  digests: string[];
  config: Buffer;
  configName: string;
  layers: LayerToLoad[];
}

function invalid(
  what: string,
  why: string,
  hint = 'give a `docker save` / `podman save` archive, an OCI archive or an OCI image-layout directory',
): PodboxError {
  return new PodboxError('InvalidImage', `${what}: ${why}`, hint);
}

const damaged = 'the archive is damaged or was tampered with; save or download it again';

/** Files of an archive or layout, by their path inside it. */
interface Source {
  describe: string;
  /** the path on disk of an archive file, or undefined */
  file(path: string): string | undefined;
}

function cleanArchivePath(p: string): string | undefined {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!out.length) return undefined;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

class DirSource implements Source {
  constructor(readonly dir: string) {}
  get describe(): string {
    return this.dir;
  }
  file(path: string): string | undefined {
    const clean = cleanArchivePath(path);
    if (clean === undefined || clean === '') return undefined;
    const p = join(this.dir, clean);
    try {
      return statSync(p).isFile() ? p : undefined;
    } catch {
      return undefined;
    }
  }
}

class TarSource implements Source {
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();
  constructor(readonly describe: string) {}
  file(path: string): string | undefined {
    let p = cleanArchivePath(path);
    for (let hops = 0; p !== undefined && hops < 16; hops++) {
      const f = this.files.get(p);
      if (f) return f;
      p = this.links.get(p);
    }
    return undefined;
  }
}

/** The tar's bytes, gunzipped when it is gzipped; other compressions are refused. */
function tarInput(path: string, describe: string): { input: AsyncIterable<Buffer>; gzip: boolean } {
  const head = Buffer.alloc(6);
  const fd = openSync(path, 'r');
  const got = readSync(fd, head, 0, 6, 0);
  closeSync(fd);
  const compression = detectCompression(head.subarray(0, got));
  if (compression !== 'none' && compression !== 'gzip') {
    throw invalid(
      describe,
      `is compressed with ${compression}, which podbox does not read`,
      'decompress it first, or use gzip',
    );
  }
  const noop = () => {};
  if (compression === 'gzip') return { input: pipeline(createReadStream(path), createGunzip(), noop), gzip: true };
  return { input: createReadStream(path), gzip: false };
}

/**
 * Copies each regular file of a tar, as the parser meets it, to `scratch/<prefix><n>`, and
 * remembers the links between entries (docker save links repeated layers). The first failure is
 * kept in `failure`; later entries are skipped.
 */
class ScratchCopier {
  private n = 0;
  failure: unknown;
  /** the file being copied, if the tar ends in its middle */
  open?: { fd: number; path: string };

  constructor(
    readonly src: TarSource,
    private readonly scratch: string,
    private readonly prefix: string,
  ) {}

  entry(e: ReadEntry): void {
    const p = cleanArchivePath(e.path);
    if (this.failure || p === undefined || p === '') {
      e.resume();
      return;
    }
    if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') {
      this.copy(e, p);
      return;
    }
    e.resume();
    if (e.type === 'SymbolicLink' && e.linkpath) {
      // docker save links repeated layers: `<id>/layer.tar -> ../<other>/layer.tar`.
      const target = e.linkpath.startsWith('/')
        ? undefined
        : cleanArchivePath(posix.join(posix.dirname(p), e.linkpath));
      if (target) this.src.links.set(p, target);
      this.src.files.delete(p);
    } else if (e.type === 'Link' && e.linkpath) {
      const target = cleanArchivePath(e.linkpath);
      if (target) this.src.links.set(p, target);
      this.src.files.delete(p);
    }
  }

  private copy(e: ReadEntry, p: string): void {
    const file = join(this.scratch, `${this.prefix}${this.n++}`);
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      this.failure ??= err;
      e.resume();
      return;
    }
    this.open = { fd, path: p };
    e.on('data', (c: Buffer) => {
      try {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      } catch (err) {
        this.failure ??= err;
      }
    });
    e.on('end', () => {
      closeSync(fd);
      this.open = undefined;
      this.src.files.set(p, file);
      this.src.links.delete(p);
    });
  }
}

/** Copies each regular file of the (possibly gzipped) tar at `path` to `scratch/<n>`. */
async function readTar(path: string, scratch: string, describe: string): Promise<TarSource> {
  const { input, gzip } = tarInput(path, describe);
  const copier = new ScratchCopier(new TarSource(describe), scratch, `archive-${randomBytes(4).toString('hex')}-`);
  const fail = (why: string) => (copier.failure ??= invalid(describe, why, damaged));
  const parser = new Parser({ strict: false, zstd: false, brotli: false });
  parser.on('entry', (e: ReadEntry) => copier.entry(e));
  parser.on('warn', (_code: string, message: string) => fail(`is not a valid tar archive (${message})`));
  parser.on('error', (e: Error) => fail(`is not a valid tar archive (${e.message})`));
  const done = new Promise<void>((resolve) => parser.on('end', () => resolve()));
  try {
    for await (const chunk of input) {
      parser.write(chunk);
      if (copier.failure) break;
    }
  } catch (e) {
    fail(`cannot be read: ${(e as Error).message}${gzip ? ' (truncated or damaged gzip data)' : ''}`);
  }
  if (!copier.failure) {
    parser.end();
    await done;
  }
  if (copier.open) {
    try {
      closeSync(copier.open.fd);
    } catch {
      /* closed */
    }
    fail(`is truncated (in ${copier.open.path})`);
  }
  const failure = copier.failure;
  if (failure instanceof PodboxError) throw failure;
  if (failure) {
    throw new PodboxError(
      'HostNotReady',
      `cannot copy ${describe} into the image store: ${(failure as Error).message}`,
      'check the space and permissions of the image store (PODBOX_HOME)',
    );
  }
  return copier.src;
}

/**
 * The JSON documents of an archive are held in memory whole, so each is bounded before it is read, with
 * the limits of containers/image (internal/iolimits/iolimits.go): MaxTarFileManifestSize (1 MiB) for a
 * docker-archive's manifest.json, MaxManifestBodySize and MaxConfigBodySize (4 MiB) for the rest.
 */
const MAX_TAR_MANIFEST_BYTES = 1 << 20;
const MAX_JSON_BYTES = 4 << 20;

function readBounded(src: Source, file: string, path: string, what: string, limit: number): Buffer {
  const r = readAtMost(file, limit);
  if (r.over) {
    const name = `${path}${what ? ` (${what})` : ''}`;
    throw invalid(src.describe, `${name} is larger than ${limit >> 20} MiB, more than an image needs`, damaged);
  }
  return r.bytes;
}

function readJson(src: Source, path: string, what: string, limit = MAX_JSON_BYTES): unknown {
  const f = src.file(path);
  if (!f) throw invalid(src.describe, `has no ${path}${what ? ` (${what})` : ''}`);
  const bytes = readBounded(src, f, path, what, limit);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid(src.describe, `${path} is not valid JSON (${(e as Error).message})`, damaged);
  }
}

/** Reads a blob (configs, manifests, indexes: small) and checks its digest and size. */
function readBlob(src: Source, digest: unknown, size: unknown, what: string): Buffer {
  const path = blobPath(src, digest, what);
  const f = src.file(path);
  if (!f) throw invalid(src.describe, `is missing blob ${path} (${what})`, damaged);
  const bytes = readBounded(src, f, path, what, MAX_JSON_BYTES);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest)
    throw invalid(src.describe, `blob ${path} (${what}) has digest ${actual}, not ${String(digest)}`, damaged);
  if (typeof size === 'number' && size !== bytes.length)
    throw invalid(src.describe, `blob ${path} (${what}) has ${bytes.length} bytes, not ${size}`, damaged);
  return bytes;
}

function blobPath(src: Source, digest: unknown, what: string): string {
  if (typeof digest !== 'string') throw invalid(src.describe, `${what} has no digest`);
  const err = digestError(digest);
  if (err) throw invalid(src.describe, `${what} has an invalid digest "${digest}": ${err}`);
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256') throw invalid(src.describe, `${what} uses ${alg}, podbox reads sha256 blobs only`);
  return `blobs/${alg}/${hex}`;
}

function normalizeName(src: Source, name: string, where: string): string {
  try {
    return formatReference(parseReference(name));
  } catch (e) {
    throw invalid(
      src.describe,
      `${where} names the image "${name}", which is not a valid reference (${(e as PodboxError).message.replace(/^.*?: /, '')})`,
      damaged,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// --- docker-archive ---

function readDockerArchive(src: Source): ImageToLoad[] {
  const manifest = readJson(src, 'manifest.json', 'docker-archive', MAX_TAR_MANIFEST_BYTES);
  if (!Array.isArray(manifest) || manifest.length === 0)
    throw invalid(src.describe, 'manifest.json lists no image', damaged);
  return manifest.map((m, i) => {
    const what = `manifest.json[${i}]`;
    if (!isObject(m) || typeof m.Config !== 'string' || !Array.isArray(m.Layers))
      throw invalid(src.describe, `${what} has no Config and Layers`, damaged);
    const configFile = src.file(m.Config);
    if (!configFile) throw invalid(src.describe, `is missing ${m.Config} (the config of ${what})`, damaged);
    const config = readBounded(src, configFile, m.Config, `the config of ${what}`, MAX_JSON_BYTES);
    const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    // The config is named by its digest: `<hex>.json` (docker save < 25) or `blobs/sha256/<hex>`.
    const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(m.Config);
    if (named && `sha256:${named[1]}` !== id)
      throw invalid(src.describe, `config ${m.Config} has digest ${id}`, damaged);
    const layers = m.Layers.map((l: unknown, j: number): LayerToLoad => {
      if (typeof l !== 'string') throw invalid(src.describe, `${what}.Layers[${j}] is not a path`, damaged);
      const file = src.file(l);
      if (!file) throw invalid(src.describe, `is missing layer ${l}`, damaged);
      const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(cleanArchivePath(l) ?? '');
      return { file, name: l, digest: blob ? `sha256:${blob[1]}` : undefined };
    });
    const tags = m.RepoTags === null || m.RepoTags === undefined ? [] : m.RepoTags;
    if (!Array.isArray(tags)) throw invalid(src.describe, `${what}.RepoTags is not a list`, damaged);
    const names = tags.map((t: unknown) => normalizeName(src, String(t), `${what}.RepoTags`));
    return { names, digests: [], config, configName: m.Config, layers };
  });
}

// --- OCI ---

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** The names an index.json descriptor gives its image (see readOci). */
function descriptorNames(src: Source, d: Record<string, unknown>): string[] {
  const a = isObject(d.annotations) ? d.annotations : {};
  const containerd = a['io.containerd.image.name'];
  if (typeof containerd === 'string' && containerd) return [normalizeName(src, containerd, 'io.containerd.image.name')];
  const ref = a['org.opencontainers.image.ref.name'];
  if (typeof ref === 'string' && ref) return [normalizeName(src, ref, 'org.opencontainers.image.ref.name')];
  return [];
}

function pickPlatform(src: Source, index: Record<string, unknown>, what: string): Record<string, unknown> {
  const arch = hostArchitecture();
  const list = Array.isArray(index.manifests) ? index.manifests.filter(isObject) : [];
  const fit =
    list.find((m) => isObject(m.platform) && m.platform.os === 'linux' && m.platform.architecture === arch) ??
    (list.length === 1 && !isObject(list[0]!.platform) ? list[0] : undefined);
  if (!fit) {
    const have = list
      .map((m) => (isObject(m.platform) ? `${m.platform.os}/${m.platform.architecture}` : '?'))
      .join(', ');
    throw invalid(
      src.describe,
      `${what} has no image for linux/${arch} (it has ${have || 'none'})`,
      `load an image built for linux/${arch}`,
    );
  }
  return fit;
}

function readOci(src: Source): ImageToLoad[] {
  const layout = readJson(src, 'oci-layout', 'OCI image layout');
  if (!isObject(layout) || typeof layout.imageLayoutVersion !== 'string')
    throw invalid(src.describe, 'oci-layout has no imageLayoutVersion', damaged);
  const index = readJson(src, 'index.json', 'OCI image layout');
  if (!isObject(index) || !Array.isArray(index.manifests))
    throw invalid(src.describe, 'index.json has no manifests', damaged);
  const out: ImageToLoad[] = [];
  index.manifests.forEach((d0: unknown, i: number) => {
    if (!isObject(d0)) throw invalid(src.describe, `index.json manifests[${i}] is not a descriptor`, damaged);
    const names = descriptorNames(src, d0);
    let d = d0;
    for (let depth = 0; ; depth++) {
      const mt = typeof d.mediaType === 'string' ? d.mediaType : '';
      if (INDEX_TYPES.has(mt) && depth < 4) {
        const nested = JSON.parse(readBlob(src, d.digest, d.size, 'image index').toString()) as unknown;
        if (!isObject(nested)) throw invalid(src.describe, `image index ${String(d.digest)} is not an object`, damaged);
        d = pickPlatform(src, nested, `image index ${String(d.digest)}`);
        continue;
      }
      if (!MANIFEST_TYPES.has(mt))
        throw invalid(src.describe, `index.json manifests[${i}] has media type "${mt}", not an image manifest`);
      break;
    }
    const manifestDigest = String(d.digest);
    const manifestBytes = readBlob(src, d.digest, d.size, 'image manifest');
    let manifest: unknown;
    try {
      manifest = JSON.parse(manifestBytes.toString());
    } catch {
      throw invalid(src.describe, `manifest ${manifestDigest} is not valid JSON`, damaged);
    }
    if (!isObject(manifest) || !isObject(manifest.config) || !Array.isArray(manifest.layers)) {
      throw invalid(src.describe, `manifest ${manifestDigest} has no config and layers`, damaged);
    }
    const config = readBlob(src, manifest.config.digest, manifest.config.size, `config of ${manifestDigest}`);
    const layers = manifest.layers.map((l: unknown, j: number): LayerToLoad => {
      if (!isObject(l))
        throw invalid(src.describe, `manifest ${manifestDigest} layers[${j}] is not a descriptor`, damaged);
      const path = blobPath(src, l.digest, `layer ${j} of ${manifestDigest}`);
      const file = src.file(path);
      if (!file) throw invalid(src.describe, `is missing blob ${path} (layer ${j} of ${manifestDigest})`, damaged);
      if (typeof l.size === 'number' && statSync(file).size !== l.size) {
        throw invalid(
          src.describe,
          `blob ${path} has ${statSync(file).size} bytes, not the ${l.size} its manifest says`,
          damaged,
        );
      }
      return { file, name: path, digest: String(l.digest) };
    });
    const digests = names.map((n) => `${repositoryOf(parseReference(n))}@${manifestDigest}`);
    out.push({ names, digests, config, configName: String(manifest.config.digest), layers });
  });
  if (out.length === 0) throw invalid(src.describe, 'index.json lists no image', damaged);
  return out;
}

/**
 * Opens a docker-archive, OCI archive or OCI layout directory and lists its images. Images that
 * share a config (one image under several tags) come out once, with all their names.
 */
export async function readImageSource(path: string, scratch: string, describe = path): Promise<ImageToLoad[]> {
  const st = statInput(path, describe, 'give the path of an image archive or OCI layout directory, or - for stdin');
  const src: Source = st.isDirectory() ? new DirSource(path) : await readTar(path, scratch, describe);
  let images: ImageToLoad[];
  if (src.file('manifest.json')) images = readDockerArchive(src);
  else if (src.file('index.json') || src.file('oci-layout')) images = readOci(src);
  else
    throw invalid(
      describe,
      st.isDirectory()
        ? 'is not an OCI image layout (no index.json)'
        : 'is neither a docker-archive (no manifest.json) nor an OCI archive (no index.json)',
    );
  const byConfig = new Map<string, ImageToLoad>();
  for (const img of images) {
    const key = createHash('sha256').update(img.config).digest('hex');
    const seen = byConfig.get(key);
    if (!seen) {
      byConfig.set(key, { ...img, names: [...new Set(img.names)], digests: [...new Set(img.digests)] });
      continue;
    }
    seen.names = [...new Set([...seen.names, ...img.names])];
    seen.digests = [...new Set([...seen.digests, ...img.digests])];
  }
  return [...byConfig.values()];
}
