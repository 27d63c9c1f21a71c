import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { PodboxError, errnoOf } from '../errors.js';
import { takeFileLock } from '../host/lock-file.js';
import { diskFullError } from './disk-full.js';

/**
 * Compressed blobs as registries serve them, kept once by digest so that images sharing a layer
 * download it once (containerd's content store, content/local/store.go, is the model):
 *
 *   blobs/sha256/<hex>           complete and verified: appears by one rename
 *   blobs/sha256/<hex>.partial   being downloaded (or left by an interrupted pull: resumed with Range)
 *   blobs/sha256/<hex>.lock      flock(2) of the process downloading it
 *
 * Two pulls of one blob (two terminals, twenty pods) take the lock in turn: the second finds the
 * blob complete, or the first gone and its partial file to resume. The lock is flock, so a killed
 * pull holds nothing.
 */
export interface BlobDownload {
  /** the image being pulled, as errors name it */
  image: string;
  /** opens the blob from `offset` (status 206 honours the range, 200 sends it whole) */
  open(offset: number): Promise<{ status: number; body: IncomingMessage }>;
  /** the error a failed stream means (names the image and registry) */
  streamError(e: unknown): Error;
  /** the error a blob with other bytes than its digest means */
  mismatch(why: string): Error;
  isTransient(e: unknown): boolean;
  signal?: AbortSignal;
  onBytes?: (done: number) => void;
}

const TRIES = 3;
const LOCK_POLL_MS = 20;
const WRITE_BATCH = 1 << 20;
/** errors of writing the store, not of the network */
const STORE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EFBIG']);

/** The bytes a blob response says it carries (its Content-Length: for a 206, the rest of the blob). */
function announcedBytes(body: IncomingMessage): number | undefined {
  const len = body.headers['content-length'];
  return len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
}

export class BlobCache {
  constructor(readonly dir: string) {}

  private split(digest: string): [string, string] {
    const i = digest.indexOf(':');
    return [digest.slice(0, i), digest.slice(i + 1)];
  }

  path(digest: string): string {
    const [alg, hex] = this.split(digest);
    return join(this.dir, alg, hex);
  }

  partialPath(digest: string): string {
    return `${this.path(digest)}.partial`;
  }

  has(digest: string, size: number): boolean {
    try {
      return statSync(this.path(digest)).size === size;
    } catch {
      return false;
    }
  }

  private unlock(digest: string, fd: number): void {
    try {
      unlinkSync(`${this.path(digest)}.lock`);
    } catch {
      /* gone */
    }
    closeSync(fd);
  }

  /**
   * Makes the blob present: downloads it (resuming a partial file), or waits for the process that
   * does. Returns whether it was there already.
   */
  async fetch(digest: string, size: number, dl: BlobDownload): Promise<{ cached: boolean }> {
    try {
      mkdirSync(join(this.dir, this.split(digest)[0]), { recursive: true, mode: 0o700 });
    } catch (e) {
      // Before the lock: a partial file there is another pull's to keep.
      throw this.storeError(e, dl);
    }
    let waited = false;
    for (;;) {
      if (this.has(digest, size)) return { cached: !waited };
      dl.signal?.throwIfAborted();
      const fd = takeFileLock(`${this.path(digest)}.lock`, 10);
      if (fd === undefined) {
        waited = true;
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
        continue;
      }
      try {
        if (this.has(digest, size)) return { cached: !waited };
        await this.download(digest, size, dl);
        return { cached: false };
      } finally {
        this.unlock(digest, fd);
      }
    }
  }

  /**
   * A failure to write the store: the partial file, when under this pull's lock, goes (a full disk
   * must not stay full of it), and the error names the image and what to do.
   */
  private storeError(e: unknown, dl: BlobDownload, partial?: string): PodboxError {
    try {
      if (partial) unlinkSync(partial);
    } catch {
      /* not made, or not removable: prune takes it */
    }
    return (
      diskFullError(dl.image, this.dir, e) ??
      new PodboxError(
        'HostNotReady',
        `cannot pull ${dl.image}: cannot write a downloaded layer to ${this.dir}: ${(e as Error).message}`,
        'check the permissions and the health of the image store (PODBOX_HOME)',
      )
    );
  }

  private async hashFile(file: string, hash: Hash): Promise<void> {
    for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(c as Buffer);
  }

  /** Under the blob's lock: fills the partial file, checks size and digest, renames it into place. */
  private async download(digest: string, size: number, dl: BlobDownload): Promise<void> {
    const partial = this.partialPath(digest);
    const alg = this.split(digest)[0];
    let hash = createHash(alg);
    let offset = 0;
    try {
      const have = statSync(partial).size;
      if (have <= size) {
        await this.hashFile(partial, hash);
        offset = have;
      } else unlinkSync(partial);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    for (let attempt = 1; offset < size || attempt === 1; attempt++) {
      const res = await dl.open(offset);
      if (offset > 0 && res.status === 416) {
        // Nothing past what the partial file holds: the blob is shorter than its manifest says.
        res.body.resume();
        unlinkSync(partial);
        throw dl.mismatch(`at most ${offset} bytes, not the ${size} its manifest says`);
      }
      if (offset > 0 && res.status !== 206) {
        // The registry ignored the Range: start over in a new file (a reader may hold the old one).
        unlinkSync(partial);
        hash = createHash(alg);
        offset = 0;
      }
      // A registry says the length before sending: a size that lies is refused before a byte is kept.
      const announced = announcedBytes(res.body);
      if (announced !== undefined && announced !== size - offset) {
        res.body.destroy();
        if (offset > 0) unlinkSync(partial);
        throw dl.mismatch(`${offset + announced} bytes, not the ${size} its manifest says`);
      }
      let fd: number;
      try {
        fd = openSync(partial, 'a', 0o600);
      } catch (e) {
        res.body.destroy();
        throw this.storeError(e, dl, partial);
      }
      // Chunks are written in batches of WRITE_BATCH: a socket delivers 16-64 KiB at a time, and a
      // write(2) each costs more than the copy that joins them. Whatever arrived is written before
      // a retry, so the partial file always holds `offset` bytes.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (!pendingBytes) return;
        const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        let w = 0;
        while (w < b.length) w += writeSync(fd, b, w, b.length - w);
        pending = [];
        pendingBytes = 0;
      };
      let open = true;
      const close = () => {
        if (open) closeSync(fd);
        open = false;
      };
      try {
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          if (offset + b.length > size) {
            res.body.destroy();
            throw dl.mismatch(`more than the ${size} bytes its manifest says`);
          }
          pending.push(b);
          pendingBytes += b.length;
          if (pendingBytes >= WRITE_BATCH) flush();
          hash.update(b);
          offset += b.length;
          dl.onBytes?.(offset);
        }
        flush();
      } catch (e) {
        if (e instanceof PodboxError) {
          // Too many bytes: nothing of this download is worth resuming.
          close();
          unlinkSync(partial);
          throw e;
        }
        if (STORE_ERRORS.has(errnoOf(e) ?? '')) {
          res.body.destroy();
          close();
          throw this.storeError(e, dl, partial);
        }
        try {
          flush();
        } catch (w) {
          close();
          throw this.storeError(w, dl, partial);
        }
        close();
        if (attempt < TRIES && dl.isTransient(e) && !dl.signal?.aborted) continue;
        throw dl.signal?.aborted ? e : dl.streamError(e);
      } finally {
        close();
      }
      if (offset < size && attempt < TRIES) continue;
      break;
    }
    if (offset !== size) {
      unlinkSync(partial);
      throw dl.mismatch(`${offset} bytes, not the ${size} its manifest says`);
    }
    const got = `${alg}:${hash.digest('hex')}`;
    if (got !== digest) {
      unlinkSync(partial);
      throw dl.mismatch(`digest ${got}`);
    }
    renameSync(partial, this.path(digest));
  }

  /** Every complete blob's digest. */
  digests(): string[] {
    const out: string[] = [];
    if (!existsSync(this.dir)) return out;
    for (const alg of readdirSync(this.dir)) {
      for (const n of readdirSync(join(this.dir, alg))) if (/^[a-f0-9]+$/.test(n)) out.push(`${alg}:${n}`);
    }
    return out;
  }

  /**
   * Removes a blob unless a pull holds its lock; with its partial file. Returns the bytes freed.
   */
  remove(digest: string): number {
    const fd = takeFileLock(`${this.path(digest)}.lock`, 10);
    if (fd === undefined) return 0;
    let freed = 0;
    try {
      for (const p of [this.path(digest), this.partialPath(digest)]) {
        try {
          freed += statSync(p).size;
          unlinkSync(p);
        } catch {
          /* absent */
        }
      }
    } finally {
      this.unlock(digest, fd);
    }
    return freed;
  }

  /** Partial files no pull is writing (an interrupted pull nobody resumed): their digests. */
  abandoned(): string[] {
    const out: string[] = [];
    if (!existsSync(this.dir)) return out;
    for (const alg of readdirSync(this.dir))
      for (const n of readdirSync(join(this.dir, alg))) {
        const m = /^([a-f0-9]+)\.partial$/.exec(n);
        if (m) out.push(`${alg}:${m[1]}`);
      }
    return out;
  }
}
