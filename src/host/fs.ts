import { renameSync, writeFileSync } from 'node:fs';

/**
 * Replaces `file` with `data` atomically: readers see the old content or the new, never a part.
 * The temporary name carries the writer's pid, so two writers never share one.
 */
export function writeAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}
