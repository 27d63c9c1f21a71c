import { renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { PodboxError, errnoOf } from '../errors.js';

/**
 * Replaces `file` with `data` atomically: readers see the old content or the new, never a part.
 * The temporary name carries the writer's pid, so two writers never share one.
 */
export function writeAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/** stat() of a file the user named on the command line; a failure is one line with `hint`. */
export function statInput(path: string, describe: string, hint: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const why = errnoOf(e) === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
    throw new PodboxError('InvalidArgument', `cannot read ${describe}: ${why}`, hint);
  }
}
