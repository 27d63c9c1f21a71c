import { statInput } from '../host/fs.js';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PodboxError, errnoOf, isPodboxError } from '../errors.js';
import { ensureStateDir, projectRoot } from '../paths.js';
import { runInUserNamespace } from '../sandbox/userns.js';
import { alive } from '../host/proc.js';
import { writeAtomic } from '../host/fs.js';
import { podIdMapping } from '../sandbox/idmap.js';
import { parseReference, formatReference, repositoryOf, familiarize } from './reference.js';
import { imageConfigOf, parseConfigDocument, applyChanges, hostArchitecture, type ImageConfig } from './config.js';
import type { ImageToLoad } from './archive.js';
import { withFileLock } from '../host/lock-file.js';
import { LayerStore, type Lease } from './layer-store.js';
import {
  runUnpackJob,
  decodeError,
  asPodboxError,
  type UnpackJob,
  type UnpackResult,
  type LayerSource,
  type LayerDir,
} from './unpack.js';

/**
 * The local image store (docs/cli.md, "podbox image"), under stateDirs().images (mode 0700, checked by
 * ensureStateDir):
 *
 *   repositories.json         {"refs": {"docker.io/library/busybox:latest": "sha256:<id>", "repo@sha256:<manifest>": …}}
 *   sha256/<id>/config.json   the image config exactly as loaded (its sha256 is the id)
 *   sha256/<id>/meta.json     {"size": …, "loaded": …}
 *   sha256/<id>/rootfs/       every layer stacked in order: the read-only lower dir of the overlays
 *   layers/, leases/          the unpacked layers the rootfs files are hard links to (layer-store.ts)
 *   tmp/<pid>-…/              work in progress; renamed into sha256/ only when complete
 *
 * An image appears by one rename of a complete directory, with its new layers, and the names index
 * is replaced by a rename too, so a failed or interrupted load leaves nothing half-written. An image
 * stored before layers were shared has a rootfs of its own files, and is used and removed the same
 * way. Rootfs files are owned
 * by the ids a pod sees (pod uid 1000 = the user's subordinate uid 1000), so layers are applied and
 * trees deleted by the unpack worker inside a user namespace with the pod mapping (runJob).
 * (About 500 lines: every write to the store goes through this one class, so its lock and renames are
 * in one place; reading archives, layers and references are their own files.)
 */
export interface StoredImage {
  /** `sha256:<hex>` of the config */
  id: string;
  /** full normalised tag references, sorted */
  names: string[];
  /** `repository@sha256:<manifest digest>` references, sorted */
  digests: string[];
  /** absolute path of the unpacked root filesystem */
  rootfs: string;
  config: ImageConfig;
  /** bytes of regular files in the rootfs, each inode once (layers shared with other images included) */
  size: number;
  created?: string;
}

/** An image `load` brought in, with the names this archive gave it (it may have others). */
export interface LoadedImage extends StoredImage {
  loaded: string[];
}

export interface RemoveResult {
  untagged: string[];
  deleted?: string;
  /** diff ids of the layers deleted with the image (those no other image uses) */
  layers?: string[];
}

export interface StoreOptions {
  /** one line per warning (device nodes skipped, owners not kept) */
  warn?: (line: string) => void;
}

interface Index {
  refs: Record<string, string>;
}

/** An image ready to be moved into place: its work directory and the new layers it brings. */
interface Staged {
  id: string;
  tmp?: string;
  refs: string[];
  layers?: { diffId: string; dir: string }[];
}

const WORKER = join(projectRoot, 'dist', 'unpack-worker.mjs');
const ID_RE = /^(?:sha256:)?([a-f0-9]{64})$/;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hexOf = (id: string) => id.replace(/^sha256:/, '');
export const shortId = (id: string) => hexOf(id).slice(0, 12);

function notFound(ref: string): PodboxError {
  return new PodboxError(
    'ImageNotFound',
    `image "${familiarize(ref)}" is not present`,
    `load it with \`podbox image load FILE\` or make it with \`podbox image import ROOTFS ${familiarize(ref)}\` (\`podbox image ls\` lists the images)`,
  );
}

export class ImageStore {
  private constructor(readonly dir: string) {}

  static open(): ImageStore {
    return new ImageStore(ensureStateDir('images'));
  }

  private get indexFile(): string {
    return join(this.dir, 'repositories.json');
  }

  private imageDir(id: string): string {
    return join(this.dir, 'sha256', hexOf(id));
  }

  private get layers(): LayerStore {
    return new LayerStore(join(this.dir, 'layers'), join(this.dir, 'leases'));
  }

  // --- the names index ---

  private readIndex(): Index {
    let text: string;
    try {
      text = readFileSync(this.indexFile, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return { refs: {} };
      throw e;
    }
    try {
      const o = JSON.parse(text) as Partial<Index>;
      return { refs: o.refs && typeof o.refs === 'object' ? { ...o.refs } : {} };
    } catch {
      throw new PodboxError(
        'InvalidImage',
        `the image index ${this.indexFile} is damaged`,
        'remove it and load the images again',
      );
    }
  }

  private writeIndex(idx: Index): void {
    const sorted = Object.fromEntries(Object.entries(idx.refs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    writeAtomic(this.indexFile, `${JSON.stringify({ refs: sorted }, null, 1)}\n`);
  }

  /** Runs `f` holding the store's lock (short critical sections: index, leases and renames). */
  private locked<T>(f: () => T): T {
    const busy = () =>
      new PodboxError(
        'HostNotReady',
        `the image store ${this.dir} has been locked by another podbox process for 30 s`,
        'wait for the pull, load or prune that holds it, and run the command again',
      );
    return withFileLock(join(this.dir, '.lock'), 30_000, busy, f);
  }

  // --- reading ---

  private readImage(id: string, idx: Index): StoredImage | undefined {
    const dir = this.imageDir(id);
    let configBytes: Buffer;
    try {
      configBytes = readFileSync(join(dir, 'config.json'));
    } catch {
      return undefined;
    }
    let meta: { size?: number } = {};
    try {
      meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { size?: number };
    } catch {
      // size unknown
    }
    const doc = JSON.parse(configBytes.toString()) as { created?: unknown };
    const refs = Object.entries(idx.refs)
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
    const img: StoredImage = {
      id,
      names: refs.filter((r) => !r.includes('@')),
      digests: refs.filter((r) => r.includes('@')),
      rootfs: join(dir, 'rootfs'),
      config: imageConfigOf(doc, id),
      size: typeof meta.size === 'number' ? meta.size : 0,
    };
    if (typeof doc.created === 'string') img.created = doc.created;
    return img;
  }

  private ids(): string[] {
    const d = join(this.dir, 'sha256');
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}`);
  }

  /** Every image, newest first (as `podman images` sorts), then by id. */
  list(): StoredImage[] {
    const idx = this.readIndex();
    const out = this.ids()
      .map((id) => this.readImage(id, idx))
      .filter((i): i is StoredImage => !!i);
    const t = (i: StoredImage) => (i.created ? Date.parse(i.created) || 0 : 0);
    return out.sort((a, b) => t(b) - t(a) || a.id.localeCompare(b.id));
  }

  /** The id `ref` names, and whether it named it by id. Throws on an invalid reference. */
  private lookup(ref: string, idx: Index): { id: string; byId: boolean; key?: string } | undefined {
    const m = ID_RE.exec(ref);
    if (m) {
      const id = `sha256:${m[1]}`;
      return existsSync(this.imageDir(id)) ? { id, byId: true } : undefined;
    }
    let key: string | undefined;
    try {
      const r = parseReference(ref);
      key = r.digest ? `${repositoryOf(r)}@${r.digest}` : formatReference(r);
    } catch (e) {
      if (!/^[a-f0-9]{1,63}$/.test(ref)) throw e;
    }
    if (key && idx.refs[key] && existsSync(this.imageDir(idx.refs[key]!)))
      return { id: idx.refs[key]!, byId: false, key };
    // A short id, as `podman images` prints it (docker accepts any unique prefix).
    if (/^(?:sha256:)?[a-f0-9]{3,63}$/.test(ref)) {
      const prefix = hexOf(ref);
      const hits = this.ids().filter((id) => hexOf(id).startsWith(prefix));
      if (hits.length > 1)
        throw new PodboxError(
          'InvalidArgument',
          `image id prefix "${ref}" is ambiguous (${hits.length} images)`,
          'give more digits of the id',
        );
      if (hits.length === 1) return { id: hits[0]!, byId: true };
    }
    return undefined;
  }

  /** The image `ref` (a reference, `sha256:<id>` or a unique id prefix) names, if present. */
  resolve(ref: string): StoredImage | undefined {
    const idx = this.readIndex();
    const hit = this.lookup(ref, idx);
    return hit ? this.readImage(hit.id, idx) : undefined;
  }

  get(ref: string): StoredImage {
    const img = this.resolve(ref);
    if (!img) throw notFound(ref);
    return img;
  }

  // --- work directories and the worker ---

  private mkTemp(kind: string): string {
    const d = join(this.dir, 'tmp', `${process.pid}-${kind}-${randomBytes(6).toString('hex')}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /**
   * Runs an unpack job. The one place that decides how: real root can chown to any id and delete
   * anything, so the worker's code runs in-process; any other user runs the worker as root of a
   * user namespace with the pod id mapping (sandbox/userns.ts).
   */
  private async runJob(job: UnpackJob): Promise<UnpackResult | undefined> {
    // A pull's unpack reads blobs while this process downloads them: in a process of its own, so
    // that the download and the unpack each have a core.
    if (process.getuid?.() === 0 && job.op === 'unpack' && job.result && job.layers.some((l) => l.kind === 'blob')) {
      await ImageStore.runWorker(job);
      return JSON.parse(readFileSync(job.result, 'utf8')) as UnpackResult;
    }
    if (process.getuid?.() === 0) {
      try {
        return await runUnpackJob(job);
      } catch (e) {
        throw asPodboxError(e);
      }
    }
    // Without a full subordinate range a pod has fewer ids than the image's owners: those files
    // are left to pod root rather than refusing the image (podman's ignore_chown_errors).
    if (job.op === 'unpack') job = { ...job, ignoreChownErrors: !podIdMapping().full };
    if (!existsSync(WORKER)) {
      throw new PodboxError(
        'HostNotReady',
        `the unpack worker ${WORKER} is missing`,
        'build podbox first (npm run build)',
      );
    }
    try {
      await runInUserNamespace([process.execPath, WORKER], { input: JSON.stringify(job) });
    } catch (e) {
      throw (isPodboxError(e) && decodeError(e.message)) || e;
    }
    if (job.op === 'unpack' && job.result) return JSON.parse(readFileSync(job.result, 'utf8')) as UnpackResult;
    return undefined;
  }

  /** The unpack worker as a plain child process (real root: no user namespace needed). */
  private static async runWorker(job: UnpackJob): Promise<void> {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(JSON.stringify(job));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    if (code !== 0) {
      const last = stderr.trim().split('\n').pop() ?? `exit code ${code}`;
      throw decodeError(last) ?? new PodboxError('SandboxFailed', `the unpack worker failed: ${last}`);
    }
  }

  private async removeTrees(paths: string[]): Promise<void> {
    if (paths.length) await this.runJob({ op: 'rm', paths });
  }

  /** Removes work directories of podbox processes that are gone (a load killed half-way). */
  private async sweep(): Promise<void> {
    const tmp = join(this.dir, 'tmp');
    if (!existsSync(tmp)) return;
    const stale = readdirSync(tmp)
      .filter((n) => {
        const pid = Number(n.split('-')[0]);
        return !Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && !alive(pid));
      })
      .map((n) => join(tmp, n));
    await this.removeTrees(stale);
  }

  /**
   * Stacks `layers` into a new work directory and returns it complete (config, meta, rootfs): a
   * layer the store has (by the diff id `expected` names, held by the caller's lease) is used as it
   * is, any other is unpacked into a directory of its own under tmp, returned in `layers` for
   * commit() to move into the store.
   */
  private async unpack(
    what: string,
    layers: LayerSource[],
    expected: (string | undefined)[],
    warn: (l: string) => void,
    alongside?: (signal: AbortSignal) => Promise<void>,
  ): Promise<{ tmp: string; result: UnpackResult; layers: { diffId: string; dir: string }[] }> {
    const tmp = this.mkTemp('image');
    try {
      mkdirSync(join(tmp, 'rootfs'), { mode: 0o755 });
      const abort = join(tmp, 'abort');
      const layerDirs: LayerDir[] = layers.map((_, i) => {
        const d = expected[i];
        return d && this.layers.has(d)
          ? { dir: this.layers.path(d), have: true }
          : { dir: join(tmp, 'layers', String(i)), have: false };
      });
      if (layerDirs.some((l) => !l.have)) mkdirSync(join(tmp, 'layers'), { mode: 0o700 });
      const job = this.runJob({
        op: 'unpack',
        rootfs: join(tmp, 'rootfs'),
        layers: layers.map((l) => (l.kind === 'blob' ? { ...l, abort } : l)),
        layerDirs,
        result: join(tmp, 'result.json'),
      });
      const result = (alongside ? await ImageStore.together(job, alongside, abort) : await job)!;
      rmSync(join(tmp, 'result.json'), { force: true });
      const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ', …' : '');
      if (result.skippedDevices.length) {
        warn(
          `image ${what}: skipped ${result.skippedDevices.length} device node(s) (${list(result.skippedDevices)}): a user namespace cannot create them (runc gives each container its own /dev)`,
        );
      }
      if (result.skippedOther.length)
        warn(
          `image ${what}: skipped ${result.skippedOther.length} entr(ies) podbox cannot write: ${list(result.skippedOther)}`,
        );
      if (result.chownFailures) {
        warn(
          `image ${what}: ${result.chownFailures} file(s) are owned by root instead of their own user: this user has no subordinate id range for pods (run \`podbox doctor\`)`,
        );
      }
      const fresh = layerDirs
        .map((l, i) => ({ diffId: result.diffIds[i]!, dir: l.dir, have: l.have }))
        .filter((l) => !l.have)
        .map(({ diffId, dir }) => ({ diffId, dir }));
      return { tmp, result, layers: fresh };
    } catch (e) {
      await this.removeTrees([tmp]).catch(() => {});
      // The worker names the layer; the user wants to know which image it belongs to too.
      if (
        isPodboxError(e) &&
        (e.code === 'UnsafeLayer' || e.code === 'InvalidImage') &&
        !e.message.startsWith('image ')
      ) {
        throw new PodboxError(e.code, `image ${what}: ${e.message}`, e.hint);
      }
      throw e;
    }
  }

  /**
   * Runs the unpack `job` and `alongside` (the downloads it reads) together. When the downloads fail,
   * the worker is told by the `abort` file; when the worker fails, the downloads by their signal.
   * The first failure is the one reported.
   */
  private static async together<T>(
    job: Promise<T>,
    alongside: (signal: AbortSignal) => Promise<void>,
    abort: string,
  ): Promise<T> {
    const ac = new AbortController();
    let first: { e: unknown } | undefined;
    const fill = alongside(ac.signal).catch((e) => {
      first ??= { e };
      writeFileSync(abort, '');
      throw e;
    });
    const work = job.catch((e) => {
      first ??= { e };
      ac.abort(e);
      throw e;
    });
    const [j, f] = await Promise.allSettled([work, fill]);
    if (first) throw first.e;
    if (f.status === 'rejected') throw f.reason;
    if (j.status === 'rejected') throw j.reason;
    return j.value;
  }

  private static writeImageFiles(tmp: string, config: Buffer, size: number): void {
    writeFileSync(join(tmp, 'config.json'), config, { mode: 0o600 });
    writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify({ size, loaded: new Date().toISOString() })}\n`, {
      mode: 0o600,
    });
  }

  /**
   * Moves complete work directories and their new layers into place and points `refs` at their
   * ids, under the lock. A name that pointed at another image moves (that image stays, by id, as
   * Docker keeps it). Returns what lost a race to an identical image or layer, for removal (a
   * rootfs linked to a layer that lost keeps its files: only the copy in the store is shared).
   */
  private commit(staged: Staged[]): string[] {
    const leftovers: string[] = [];
    this.locked(() => {
      mkdirSync(join(this.dir, 'sha256'), { recursive: true, mode: 0o700 });
      for (const s of staged) {
        if (!s.tmp) continue;
        for (const l of s.layers ?? []) this.layers.commit(l.diffId, l.dir);
        // What is left of the layers' work directory (nothing, or layers that lost) is not the image's.
        if (existsSync(join(s.tmp, 'layers'))) {
          const t = this.mkTemp('rm');
          renameSync(join(s.tmp, 'layers'), join(t, 'layers'));
          leftovers.push(t);
        }
        try {
          renameSync(s.tmp, this.imageDir(s.id));
        } catch (e) {
          if (errnoOf(e) !== 'ENOTEMPTY' && errnoOf(e) !== 'EEXIST') throw e;
          leftovers.push(s.tmp);
        }
      }
      const idx = this.readIndex();
      for (const s of staged) for (const r of s.refs) idx.refs[r] = s.id;
      this.writeIndex(idx);
    });
    return leftovers;
  }

  /**
   * Holds `content` (the layers and blobs a pull or load will use) against prune and rm until
   * released: taken under the lock before looking for the layers (layer-store.ts).
   */
  private lease(layers: string[], blobs: string[] = []): Lease {
    return this.locked(() => this.layers.lease({ layers, blobs }));
  }

  private async withInput<T>(
    src: string,
    scratch: string,
    f: (path: string, describe: string) => Promise<T>,
  ): Promise<T> {
    if (src !== '-') return f(resolvePath(src), src);
    const path = join(scratch, 'stdin');
    await pipeline(process.stdin, createWriteStream(path, { mode: 0o600 }));
    return f(path, 'stdin');
  }

  // --- pulled images (image/pull.ts) ---

  /** Where pulled blobs are kept (image/blob-cache.ts). */
  get blobsDir(): string {
    return join(this.dir, 'blobs');
  }

  /** The registry manifest a pulled image came with, if it was pulled. */
  pulledManifest(id: string): Buffer | undefined {
    try {
      return readFileSync(join(this.imageDir(id), 'manifest.json'));
    } catch {
      return undefined;
    }
  }

  /** Gives image `id` the names `refs` if it is present (a pull of an image already here); else undefined. */
  addNames(id: string, refs: string[]): StoredImage | undefined {
    const ok = this.locked(() => {
      if (!existsSync(join(this.imageDir(id), 'config.json'))) return false;
      const idx = this.readIndex();
      if (refs.every((r) => idx.refs[r] === id)) return true;
      for (const r of refs) idx.refs[r] = id;
      this.writeIndex(idx);
      return true;
    });
    return ok ? this.readImage(id, this.readIndex()) : undefined;
  }

  /**
   * A pulled image: `fill` downloads its blobs while the worker applies them in order (blob-follow.ts);
   * it appears under `refs` only when every blob and every diff id verified.
   */
  async addPulled(
    p: { what: string; config: Buffer; manifest: Buffer; layers: LayerSource[]; refs: string[] },
    fill: (signal: AbortSignal) => Promise<void>,
    opts: StoreOptions = {},
  ): Promise<StoredImage> {
    const id = sha256(p.config);
    const doc = parseConfigDocument(p.config, p.what);
    if (doc.diffIds.length !== p.layers.length) {
      throw new PodboxError(
        'ImagePullFailed',
        `image ${p.what}: its config lists ${doc.diffIds.length} layer(s) but its manifest ${p.layers.length}`,
        'the image in the registry is damaged; push it again',
      );
    }
    await this.sweep();
    const blobs = p.layers.flatMap((l) =>
      l.kind === 'blob' ? [`${basename(dirname(l.file))}:${basename(l.file)}`] : [],
    );
    const lease = this.lease(doc.diffIds, blobs);
    try {
      const { tmp, result, layers } = await this.unpack(p.what, p.layers, doc.diffIds, opts.warn ?? (() => {}), fill);
      try {
        const bad = doc.diffIds.findIndex((d, i) => d !== result.diffIds[i]);
        if (bad >= 0) {
          throw new PodboxError(
            'DigestMismatch',
            `image ${p.what}: layer ${p.layers[bad]!.name} has diff id ${result.diffIds[bad]}, but the image config says ${doc.diffIds[bad]}`,
            'the registry served a damaged or tampered image; pull again, and tell its owner if this persists',
          );
        }
        ImageStore.writeImageFiles(tmp, p.config, result.size);
        writeFileSync(join(tmp, 'manifest.json'), p.manifest, { mode: 0o600 });
        await this.removeTrees(this.commit([{ id, tmp, refs: p.refs, layers }]));
      } catch (e) {
        await this.removeTrees([tmp]).catch(() => {});
        throw e;
      }
    } finally {
      lease.release();
    }
    return this.readImage(id, this.readIndex())!;
  }

  /** The diff ids the image in `dir` lists (its config's rootfs.diff_ids); none when unreadable. */
  private static diffIdsIn(dir: string): string[] {
    try {
      return parseConfigDocument(readFileSync(join(dir, 'config.json'))).diffIds;
    } catch {
      return [];
    }
  }

  /** Every layer a present image lists (an image stored before layers were shared lists some absent ones). */
  private usedLayers(): Set<string> {
    return new Set(this.ids().flatMap((id) => ImageStore.diffIdsIn(this.imageDir(id))));
  }

  /**
   * `podbox image prune`, under the lock so that a pull or load in progress keeps what its lease
   * holds (layer-store.ts):
   *  1. images without a name that `inUse` does not hold
   *  2. layers no remaining image lists
   *  3. blobs no remaining pulled image lists, and partial downloads nobody is writing
   * Returns the image ids and layer diff ids deleted and the bytes freed.
   */
  async prune(
    inUse: (id: string) => boolean,
  ): Promise<{ deleted: string[]; layers: string[]; layerBytes: number; blobBytes: number }> {
    const { BlobCache } = await import('./blob-cache.js');
    const cache = new BlobCache(this.blobsDir);
    const trash = this.mkTemp('rm');
    const deleted: string[] = [];
    let layers = { layers: [] as string[], bytes: 0 };
    let blobBytes = 0;
    try {
      this.locked(() => {
        // Step 1: the images.
        const idx = this.readIndex();
        const named = new Set(Object.values(idx.refs));
        mkdirSync(join(trash, 'images'));
        for (const id of this.ids()) {
          if (named.has(id) || inUse(id)) continue;
          renameSync(this.imageDir(id), join(trash, 'images', hexOf(id)));
          deleted.push(id);
        }
        // Step 2: the layers.
        mkdirSync(join(trash, 'layers'));
        layers = this.layers.collect(this.usedLayers(), join(trash, 'layers'));
        // Step 3: the blobs (unlinks only: short enough for the lock).
        const wanted = new Set<string>(this.layers.leased().blobs);
        for (const id of this.ids()) for (const d of this.blobsOf(id)) wanted.add(d);
        for (const d of new Set([...cache.digests(), ...cache.abandoned()]))
          if (!wanted.has(d)) blobBytes += cache.remove(d);
      });
    } finally {
      await this.removeTrees([trash]);
    }
    return { deleted, layers: layers.layers, layerBytes: layers.bytes, blobBytes };
  }

  /** The layer blobs image `id` was pulled with (none for a loaded or imported image). */
  private blobsOf(id: string): string[] {
    const m = this.pulledManifest(id);
    if (!m) return [];
    try {
      const doc = JSON.parse(m.toString()) as { layers?: { digest?: string }[] };
      return (doc.layers ?? []).flatMap((l) => (l.digest ? [l.digest] : []));
    } catch {
      return []; // not ours to judge
    }
  }

  // --- load, import, remove ---

  /** `podbox image load FILE|-|DIR`: every image of the archive, under every name it carries. */
  async load(src: string, opts: StoreOptions = {}): Promise<LoadedImage[]> {
    const warn = opts.warn ?? (() => {});
    await this.sweep();
    const scratch = this.mkTemp('load');
    const staged: Staged[] = [];
    let lease: Lease | undefined;
    try {
      // The archive reader (and the tar library) is loaded only by `image load`.
      const { readImageSource } = await import('./archive.js');
      const images: ImageToLoad[] = await this.withInput(src, scratch, (path, describe) =>
        readImageSource(path, scratch, describe),
      );
      // Check every config before unpacking anything.
      const plans = images.map((img) => {
        const id = sha256(img.config);
        const doc = parseConfigDocument(img.config, img.configName);
        if (doc.diffIds.length !== img.layers.length) {
          throw new PodboxError(
            'InvalidImage',
            `image ${img.names[0] ? familiarize(img.names[0]) : id}: its config lists ${doc.diffIds.length} layer(s) but its manifest ${img.layers.length}`,
            'the archive is damaged; save it again',
          );
        }
        return { img, id, doc };
      });
      lease = this.lease(plans.flatMap((p) => p.doc.diffIds));
      for (const { img, id, doc } of plans) {
        const refs = [...img.names, ...img.digests];
        if (existsSync(this.imageDir(id)) || staged.some((s) => s.id === id)) {
          staged.push({ id, refs });
          continue;
        }
        const what = img.names[0] ? familiarize(img.names[0]) : shortId(id);
        const { tmp, result, layers } = await this.unpack(
          what,
          img.layers.map((l) => ({ kind: 'file' as const, file: l.file, name: l.name, digest: l.digest })),
          doc.diffIds,
          warn,
        );
        staged.push({ id, tmp, refs, layers });
        const bad = doc.diffIds.findIndex((d, i) => d !== result.diffIds[i]);
        if (bad >= 0) {
          throw new PodboxError(
            'InvalidImage',
            `image ${what}: layer ${img.layers[bad]!.name} has diff id ${result.diffIds[bad]}, but the image config says ${doc.diffIds[bad]}`,
            'the archive is damaged or was tampered with; save or download it again',
          );
        }
        ImageStore.writeImageFiles(tmp, img.config, result.size);
      }
      const leftovers = this.commit(staged);
      await this.removeTrees(leftovers);
    } catch (e) {
      await this.removeTrees(staged.map((s) => s.tmp).filter((t): t is string => !!t)).catch(() => {});
      throw e;
    } finally {
      lease?.release();
      rmSync(scratch, { recursive: true, force: true });
    }
    const idx = this.readIndex();
    return staged.map((s) => ({ ...this.readImage(s.id, idx)!, loaded: s.refs.filter((r) => !r.includes('@')) }));
  }

  /**
   * `podbox image import ROOTFS.tar|DIR|- NAME [--change …]`: one layer made of the tar or the
   * directory, with a config holding the changes (as `docker import`).
   */
  async import(src: string, name: string, changes: string[] = [], opts: StoreOptions = {}): Promise<StoredImage> {
    const ref = parseReference(name);
    if (ref.digest)
      throw new PodboxError(
        'InvalidArgument',
        `cannot import under "${name}": a name for an import has no digest`,
        'give NAME[:TAG]',
      );
    const config = applyChanges({}, changes);
    await this.sweep();
    const scratch = this.mkTemp('import');
    let staged: Staged | undefined;
    try {
      await this.withInput(src, scratch, async (path, describe) => {
        const st = statInput(
          path,
          describe,
          'give a root filesystem as a tar (optionally gzipped) or a directory, or - for stdin',
        );
        const layer: LayerSource = st.isDirectory()
          ? { kind: 'dir', dir: path, name: describe }
          : { kind: 'file', file: path, name: describe };
        // The layer's diff id is known only once unpacked: it moves into the store with the image.
        const { tmp, result, layers } = await this.unpack(
          familiarize(formatReference(ref)),
          [layer],
          [undefined],
          opts.warn ?? (() => {}),
        );
        const created = new Date().toISOString();
        const doc = {
          architecture: hostArchitecture(),
          config,
          created,
          history: [{ created, created_by: 'podbox image import', comment: `Imported from ${describe}` }],
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: result.diffIds },
        };
        const bytes = Buffer.from(JSON.stringify(doc));
        ImageStore.writeImageFiles(tmp, bytes, result.size);
        staged = { id: sha256(bytes), tmp, refs: [formatReference(ref)], layers };
      });
      const leftovers = this.commit([staged!]);
      await this.removeTrees(leftovers);
    } catch (e) {
      if (staged?.tmp) await this.removeTrees([staged.tmp]).catch(() => {});
      throw e;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return this.readImage(staged!.id, this.readIndex())!;
  }

  /**
   * `podbox image rm REF`: a name is untagged, and the image deleted once it has no tag left; an
   * id deletes the image with all its names (refused when it has several, unless `force`), as
   * `docker rmi` does. `refuseDelete` may refuse the deletion (not an untagging) of the image.
   */
  async remove(
    ref: string,
    opts: { force?: boolean; refuseDelete?: (id: string) => PodboxError | undefined } = {},
  ): Promise<RemoveResult> {
    let trash: string | undefined;
    const out: RemoveResult = { untagged: [] };
    this.locked(() => {
      const idx = this.readIndex();
      const hit = this.lookup(ref, idx);
      if (!hit) throw notFound(ref);
      const refsOf = () => Object.keys(idx.refs).filter((k) => idx.refs[k] === hit.id);
      if (hit.byId) {
        const tags = refsOf().filter((r) => !r.includes('@'));
        if (tags.length > 1 && !opts.force) {
          throw new PodboxError(
            'InvalidArgument',
            `image ${shortId(hit.id)} has several names (${tags.map(familiarize).join(', ')})`,
            'remove them by name one at a time, or use --force to remove the image with all of them',
          );
        }
        for (const r of refsOf()) {
          delete idx.refs[r];
          out.untagged.push(r);
        }
      } else {
        delete idx.refs[hit.key!];
        out.untagged.push(hit.key!);
        // With its last tag, a repository's digest references to the image go too (docker rmi).
        const repo = repositoryOf(parseReference(hit.key!));
        const sameRepo = (r: string) => repositoryOf(parseReference(r)) === repo;
        if (!hit.key!.includes('@') && !refsOf().some((r) => !r.includes('@') && sameRepo(r))) {
          for (const r of refsOf().filter((r) => r.includes('@') && sameRepo(r))) {
            delete idx.refs[r];
            out.untagged.push(r);
          }
        }
      }
      const left = refsOf();
      if (!left.some((r) => !r.includes('@'))) {
        // Untagging leaves the image, so only its deletion asks (e.g. whether a pod uses it).
        const refusal = opts.refuseDelete?.(hit.id);
        if (refusal) throw refusal;
        // No tag left: its digest references go with it, and so does the image.
        for (const r of left) {
          delete idx.refs[r];
          out.untagged.push(r);
        }
        out.deleted = hit.id;
      }
      this.writeIndex(idx);
      if (out.deleted) {
        trash = this.mkTemp('rm');
        renameSync(this.imageDir(hit.id), join(trash, 'image'));
        // Its layers go with it unless another image or a pull in progress uses them (docker rmi).
        mkdirSync(join(trash, 'layers'));
        const gone = new Set(ImageStore.diffIdsIn(join(trash, 'image')));
        const used = this.usedLayers();
        for (const d of this.layers.ids()) if (!gone.has(d)) used.add(d);
        out.layers = this.layers.collect(used, join(trash, 'layers')).layers;
      }
    });
    if (trash) await this.removeTrees([trash]);
    return out;
  }
}
