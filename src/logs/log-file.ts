import {
  closeSync,
  ftruncateSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../lifecycle/timing.js';
import { quantityBytes } from '../api/quantity.js';
import { PodboxError } from '../errors.js';

/**
 * One container instance's log file, rotated as the kubelet rotates it
 * (pkg/kubelet/logs/container_log_manager.go rotateLog / rotateLatestLog / removeExcessLogs):
 * when the file would pass containerLogMaxSize it is renamed FILE.TIMESTAMP and a new FILE is
 * started; of the rotated files only the newest containerLogMaxFiles - 1 are kept, so an instance
 * never holds more than maxFiles × maxSize bytes.
 *
 * Differences, on purpose:
 * - the kubelet checks every 10 s and then asks the runtime to reopen the file; here the writer
 *   rotates before the record that would pass the limit, so the bound holds at every moment;
 * - the kubelet gzips every rotated file but the newest; podbox keeps them plain, because
 *   `podbox logs` reads them (kubectl reads only the current file) and gzip in the supervisor
 *   would stall the pipes of every container of the pod;
 * - the timestamp is UTC (the kubelet formats local time, 20060102-150405), and a second rotation
 *   within the same second gets a `-N` suffix instead of replacing the first.
 */
export interface ContainerLogPolicy {
  maxSize: number;
  maxFiles: number;
}

/** The kubelet's defaults (KubeletConfiguration containerLogMaxSize 10Mi, containerLogMaxFiles 5). */
export const KUBELET_LOG_POLICY: ContainerLogPolicy = { maxSize: 10 * 1024 * 1024, maxFiles: 5 };

/** PODBOX_CONTAINER_LOG_MAX_SIZE (a quantity, e.g. 10Mi) and PODBOX_CONTAINER_LOG_MAX_FILES (at least 2). */
export function containerLogPolicy(env: NodeJS.ProcessEnv = process.env): ContainerLogPolicy {
  const policy = { ...KUBELET_LOG_POLICY };
  const size = env.PODBOX_CONTAINER_LOG_MAX_SIZE;
  if (size !== undefined && size !== '') {
    let bytes = NaN;
    try {
      bytes = quantityBytes(size);
    } catch {
      /* reported below */
    }
    if (!Number.isSafeInteger(bytes) || bytes < 1) {
      throw new PodboxError(
        'InvalidArgument',
        `PODBOX_CONTAINER_LOG_MAX_SIZE=${size} is not a size`,
        'give a quantity such as 10Mi or 500Ki, or unset it for 10Mi',
      );
    }
    policy.maxSize = bytes;
  }
  const files = env.PODBOX_CONTAINER_LOG_MAX_FILES;
  if (files !== undefined && files !== '') {
    // The kubelet's validation: containerLogMaxFiles must be greater than 1 (one current, one rotated).
    if (!/^\d+$/.test(files) || Number(files) < 2) {
      throw new PodboxError(
        'InvalidArgument',
        `PODBOX_CONTAINER_LOG_MAX_FILES=${files} is not a number of files of 2 or more`,
        'give e.g. 5, or unset it for 5',
      );
    }
    policy.maxFiles = Number(files);
  }
  return policy;
}

/** The timestamp part of a rotated file's name (Go layout 20060102-150405, in UTC). */
export function rotationStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

const ROTATED = /^\.(\d{8}-\d{6})(?:-(\d+))?$/;

/** Orders rotated file names by their timestamp, then their same-second suffix (oldest first). */
function rotationKey(base: string, name: string): [string, number] | undefined {
  if (!name.startsWith(base)) return undefined;
  const m = ROTATED.exec(name.slice(base.length));
  return m ? [m[1]!, m[2] === undefined ? 0 : Number(m[2])] : undefined;
}

/** The rotated files of `base` among a directory's entries, oldest first. */
export function rotatedLogNames(base: string, entries: string[]): string[] {
  const keyed = entries.flatMap((n) => {
    const k = rotationKey(base, n);
    return k ? [{ n, k }] : [];
  });
  keyed.sort((a, b) => (a.k[0] < b.k[0] ? -1 : a.k[0] > b.k[0] ? 1 : a.k[1] - b.k[1]));
  return keyed.map((x) => x.n);
}

/** The name a rotation at `ms` gives `base`, after every name already taken. */
export function rotatedLogName(base: string, ms: number, entries: string[]): string {
  const stamp = rotationStamp(ms);
  const taken = rotatedLogNames(base, entries);
  const last = taken.at(-1);
  const lastKey = last ? rotationKey(base, last)! : undefined;
  // A clock that went back, or a second rotation within the second: keep the order by suffix.
  if (!lastKey || lastKey[0] < stamp) return `${base}.${stamp}`;
  return `${base}.${lastKey[0]}-${lastKey[1] + 1}`;
}

/** Every file of one instance's log, oldest first: the rotated files, then the current one. */
export function logFileSeries(file: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dirname(file));
  } catch {
    return [file];
  }
  return [...rotatedLogNames(basename(file), entries).map((n) => join(dirname(file), n)), file];
}

/**
 * Removes the logs of the instances before the previous one when instance N starts (`file` is
 * N.log): the kubelet's container garbage collection keeps one dead container per container
 * (--maximum-dead-containers-per-container 1, pkg/kubelet/kuberuntime/kuberuntime_gc.go
 * evictContainers) and its log goes with it; `logs -p` needs only the previous one. Without this a
 * crash-looping container would fill the disk one small file at a time.
 */
export function removeOldInstanceLogs(file: string): void {
  const current = /^(\d+)\.log$/.exec(basename(file));
  if (!current) return;
  let entries: string[];
  try {
    entries = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const f of entries) {
    const m = /^(\d+)\.log(?:\..+)?$/.exec(f);
    if (!m || Number(m[1]) >= Number(current[1]) - 1) continue;
    try {
      unlinkSync(join(dirname(file), f));
    } catch {
      /* removed meanwhile */
    }
  }
}

/** The file operations the writer uses; tests inject failures (ENOSPC, EIO) through it. */
export interface LogFileIo {
  write(fd: number, buf: Buffer, offset: number, length: number): number;
}

const nodeIo: LogFileIo = { write: (fd, buf, offset, length) => writeSync(fd, buf, offset, length) };

export class ContainerLogFile {
  private fd = -1;
  private size = 0;

  constructor(
    readonly path: string,
    private readonly policy: ContainerLogPolicy,
    private readonly clock: Clock,
    private readonly io: LogFileIo = nodeIo,
  ) {
    // A file that cannot be created now (disk full) is tried again at each record: the sink must
    // exist whatever happens, or nothing would drain the container's pipes.
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      this.reopen();
    } catch {
      /* append retries */
    }
  }

  /**
   * Appends one whole record or nothing: a write that fails half-way (the disk filled up, the
   * file size limit was reached) is cut off again, so no broken record is left for a later
   * record to be glued to. Throws the write's error.
   */
  append(record: Buffer): void {
    if (this.fd >= 0 && this.size > 0 && this.size + record.length > this.policy.maxSize) this.rotate();
    if (this.fd < 0) this.reopen();
    let done = 0;
    try {
      while (done < record.length) done += this.io.write(this.fd, record, done, record.length - done);
    } catch (e) {
      if (done > 0) {
        try {
          ftruncateSync(this.fd, this.size);
        } catch {
          /* the reader skips a broken record */
        }
      }
      throw e;
    }
    this.size += record.length;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private reopen(): void {
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    const dir = dirname(this.path);
    const base = basename(this.path);
    try {
      const rotated = rotatedLogName(base, this.clock.now(), readdirSync(dir));
      renameSync(this.path, join(dir, rotated));
    } catch {
      // Could not rename (the file system refuses): keep appending to the current file and try
      // again at the next record, as the kubelet retries at its next check.
      return;
    }
    this.close();
    try {
      const rotated = rotatedLogNames(base, readdirSync(dir));
      const excess = Math.max(0, rotated.length - (this.policy.maxFiles - 1));
      for (const old of rotated.slice(0, excess)) unlinkSync(join(dir, old));
    } catch {
      /* removed at the next rotation */
    }
    // The next append opens the new file (and reports if it cannot).
  }
}
