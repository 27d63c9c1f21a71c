import { closeSync, openSync, readSync } from 'node:fs';
import { errnoOf } from '../errors.js';

/**
 * Reads at most `limit` bytes of a file, or of an open fd such as 0 (stdin), so input podbox holds
 * in memory whole (a manifest, an archive's JSON) has a bound before it is read rather than after.
 * `over` says more bytes followed: the caller refuses the input, naming its own limit.
 */
export function readAtMost(file: string | number, limit: number): { bytes: Buffer; over: boolean } {
  const fd = typeof file === 'number' ? file : openSync(file, 'r');
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        // stdin may be a non-blocking pipe or terminal: wait for it as a blocking read would.
        if (errnoOf(e) !== 'EAGAIN') throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (got === 0) break;
      n += got;
    }
    return { bytes: buf.subarray(0, Math.min(n, limit)), over: n > limit };
  } finally {
    if (typeof file !== 'number') closeSync(fd);
  }
}
