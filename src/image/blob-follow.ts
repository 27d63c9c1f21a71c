import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { PodboxError } from '../errors.js';

/**
 * Reads a blob while another process downloads it (blob-cache.ts): from `partial` as it grows,
 * done when the verified `file` exists and every byte was read. This is how the unpack worker
 * decompresses and applies a layer while it downloads. The bytes read before the digest is
 * checked only reach a work directory, which is discarded unless every blob verifies and every
 * diff id matches the config; `abort` appears when the download failed.
 *
 * A download that starts over (the registry ignored a Range) writes a new file: then the reader
 * goes on from the same offset in the verified file, whose diff id is checked like any other.
 */
export interface FollowedBlob {
  file: string;
  partial: string;
  size: number;
  name: string;
  abort?: string;
}

const POLL_MS = 3;
const CHUNK = 1 << 20;
const MIN_READ = 256 << 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function aborted(b: FollowedBlob): boolean {
  return !!b.abort && existsSync(b.abort);
}

function abortedError(b: FollowedBlob): PodboxError {
  return new PodboxError('ImagePullFailed', `layer ${b.name}: its download failed`, 'pull the image again');
}

/** Opens the blob or its partial file once either exists. */
async function openBlob(b: FollowedBlob): Promise<number> {
  for (;;) {
    for (const p of [b.file, b.partial]) {
      try {
        return openSync(p, 'r');
      } catch {
        /* not there yet */
      }
    }
    if (aborted(b)) throw abortedError(b);
    await sleep(POLL_MS);
  }
}

export async function* followBlob(b: FollowedBlob): AsyncGenerator<Buffer> {
  let fd = await openBlob(b);
  let pos = 0;
  const read = (n: number) => {
    const buf = Buffer.allocUnsafe(Math.min(n, CHUNK));
    const got = readSync(fd, buf, 0, buf.length, pos);
    pos += got;
    return buf.subarray(0, got);
  };
  try {
    for (;;) {
      // Reads of at least MIN_READ while the download runs: a reader that keeps up would otherwise
      // feed gunzip and the tar parser a sliver at a time.
      const avail = fstatSync(fd).size - pos;
      if (avail >= MIN_READ) {
        yield read(avail);
        continue;
      }
      let done: { ino: number } | undefined;
      try {
        done = statSync(b.file);
      } catch {
        done = undefined;
      }
      if (done) {
        if (fstatSync(fd).ino !== done.ino) {
          closeSync(fd);
          fd = openSync(b.file, 'r');
          continue;
        }
        if (avail > 0) {
          yield read(avail);
          continue;
        }
        if (pos >= b.size) return;
      }
      if (aborted(b)) throw abortedError(b);
      await sleep(POLL_MS);
    }
  } finally {
    closeSync(fd);
  }
}
