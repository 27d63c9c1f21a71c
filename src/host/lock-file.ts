import { closeSync, fstatSync, statSync } from 'node:fs';
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
