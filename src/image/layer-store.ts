import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
} from 'node:fs';
import { writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errnoOf, PodboxError } from '../errors.js';
import { takeFileLock } from '../host/lock-file.js';
import { LAYER_META, readLayerMeta } from './layer-links.js';

/**
 * Unpacked layers, each kept once by its diff id and shared by every image that lists it
 * (store.ts owns the images; layer-links.ts stacks an image's rootfs from its layers):
 *
 *   layers/<hex>/diff/        the layer's files, owned as a pod sees them
 *   layers/<hex>/layer.json   its diff id, size, whiteouts, opaque directories and links to lower files
 *   leases/<pid>-<random>     flock(2) of a pull or load in progress: the layers and blobs it will use
 *
 * containers/storage names an overlay layer by its chain id (containers/image storage/storage_dest.go,
 * the layer id from the parent's id and the diff id) because an overlay layer is mounted over its
 * parents and records them. A layer here holds only its own changes and its whiteouts as data, and
 * is stacked onto whatever is below when an image is made, so the diff id alone names it and an
 * identical layer under different parents is kept once.
 *
 * A layer appears by one rename, under the store's lock, together with the first image that lists
 * it; it is removed when no image lists it and no lease holds it. A lease is written under the store's
 * lock before a pull or load looks for its layers, and prune reads the leases under the same lock: a
 * layer or blob a pull is about to use is never deleted under it. A lease is an flock, so a killed
 * pull holds nothing (the file is removed by the next prune).
 */
export interface LeaseContent {
  layers: string[];
  blobs: string[];
}

const hexOf = (d: string) => d.replace(/^sha256:/, '');

export class Lease {
  private content: LeaseContent;

  constructor(
    private readonly path: string,
    private readonly fd: number,
    content: LeaseContent,
  ) {
    this.content = { layers: [], blobs: [] };
    this.add(content);
  }

  /** Adds to what the lease holds; the caller holds the store's lock (prune reads leases under it). */
  add(more: Partial<LeaseContent>): void {
    this.content = {
      layers: [...new Set([...this.content.layers, ...(more.layers ?? [])])],
      blobs: [...new Set([...this.content.blobs, ...(more.blobs ?? [])])],
    };
    const b = Buffer.from(JSON.stringify(this.content));
    ftruncateSync(this.fd, 0);
    let w = 0;
    while (w < b.length) w += writeSync(this.fd, b, w, b.length - w, w);
  }

  release(): void {
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
    closeSync(this.fd);
  }
}

export class LayerStore {
  constructor(
    readonly dir: string,
    private readonly leasesDir: string,
  ) {}

  path(diffId: string): string {
    return join(this.dir, hexOf(diffId));
  }

  has(diffId: string): boolean {
    return existsSync(join(this.path(diffId), LAYER_META));
  }

  /** Diff ids of every layer present. */
  ids(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}`);
  }

  /** Bytes of regular files of the layer (0 when unknown). */
  size(diffId: string): number {
    try {
      return readLayerMeta(this.path(diffId)).size;
    } catch {
      return 0;
    }
  }

  /** A new lease holding `content`; the caller holds the store's lock. */
  lease(content: LeaseContent): Lease {
    mkdirSync(this.leasesDir, { recursive: true, mode: 0o700 });
    const path = join(this.leasesDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    const fd = takeFileLock(path);
    if (fd === undefined) {
      throw new PodboxError('HostNotReady', `cannot lock ${path}`, 'another process holds it: run the command again');
    }
    return new Lease(path, fd, content);
  }

  /** What every live lease holds; leases of processes that are gone are removed. Under the store's lock. */
  leased(): LeaseContent {
    const out: LeaseContent = { layers: [], blobs: [] };
    if (!existsSync(this.leasesDir)) return out;
    for (const n of readdirSync(this.leasesDir)) {
      const p = join(this.leasesDir, n);
      const fd = takeFileLock(p, 1);
      if (fd !== undefined) {
        // Nobody holds it: its pull or load is gone.
        try {
          unlinkSync(p);
        } catch {
          /* gone */
        }
        closeSync(fd);
        continue;
      }
      try {
        const c = JSON.parse(readFileSync(p, 'utf8')) as Partial<LeaseContent>;
        out.layers.push(...(c.layers ?? []));
        out.blobs.push(...(c.blobs ?? []));
      } catch {
        /* being created: it holds nothing yet */
      }
    }
    return out;
  }

  /**
   * Moves a new layer's directory into the store under the store's lock. False when the layer is
   * already there (another pull made it meanwhile): the caller removes its copy.
   */
  commit(diffId: string, dir: string): boolean {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      renameSync(dir, this.path(diffId));
      return true;
    } catch (e) {
      if (errnoOf(e) !== 'ENOTEMPTY' && errnoOf(e) !== 'EEXIST') throw e;
      return false;
    }
  }

  /**
   * Under the store's lock: moves every layer that neither `used` nor a lease holds into `trash`
   * (for removal outside the lock). Returns their diff ids and bytes.
   */
  collect(used: Set<string>, trash: string): { layers: string[]; bytes: number } {
    const keep = new Set([...used, ...this.leased().layers]);
    const out = { layers: [] as string[], bytes: 0 };
    for (const d of this.ids()) {
      if (keep.has(d)) continue;
      out.bytes += this.size(d);
      renameSync(this.path(d), join(trash, hexOf(d)));
      out.layers.push(d);
    }
    return out;
  }
}
