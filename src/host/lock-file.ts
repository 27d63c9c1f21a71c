import { closeSync, fstatSync, statSync, unlinkSync } from 'node:fs';
import { native } from '../sandbox/native.js';

/**
 * An flock(2) on a lock file that whoever holds it unlinks when done (the user's supervisor, a blob
 * download): the file locked must still be the one at the path, or two processes could each hold a
 * lock on a different file. Returns the descriptor holding the lock, or undefined while another
 * process holds it.
 */
export function takeFileLock(path: string, tries = 100): number | undefined {
  for (let i = 0; i < tries; i++) {
    const fd = native().lockFile(path);
    if (fd < 0) return undefined;
    try {
      if (fstatSync(fd).ino === statSync(path).ino) return fd;
    } catch {
      /* unlinked meanwhile */
    }
    closeSync(fd);
  }
  return undefined;
}

/**
 * Runs `f` holding the lock file `path` (an flock: a killed holder holds nothing), then unlinks it.
 * Waits up to `waitMs` for another holder, polling: holders keep it for short critical sections
 * (the image store's index, leases and renames); `busy` is the error when it stays held.
 */
export function withFileLock<T>(path: string, waitMs: number, busy: () => Error, f: () => T): T {
  const end = Date.now() + waitMs;
  let fd: number | undefined;
  while ((fd = takeFileLock(path, 10)) === undefined) {
    if (Date.now() > end) throw busy();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  try {
    return f();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      /* gone */
    }
    closeSync(fd);
  }
}
