import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The exits file a pod's pause appends to (native/pause.c -e): one line per process it reaped,
 *
 *   PID exited CODE\n      PID killed SIGNO\n
 *
 * PID as the pod's PID namespace numbers it (runc state's pid of a container started with
 * `runc run -d` inside that namespace). Containers run detached, so their first processes are
 * orphans that only pause can wait for: this file is how the supervisor learns their exit codes,
 * and a file (not a pipe) so that a supervisor started later reads the same lines.
 */
export interface ExitRecord {
  pid: number;
  /** the exit code, or 128 + the signal's number when killed (as a shell and the kubelet report it) */
  exitCode: number;
  /** the signal that killed it, when it was killed */
  signal?: number;
}

const LINE = /^(\d+) (exited|killed) (\d+)$/;

/** The records of complete lines of text; a line that is not a record is skipped. */
export function parseExitRecords(text: string): ExitRecord[] {
  const records: ExitRecord[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    const n = Number(m[3]);
    records.push(m[2] === 'exited' ? { pid, exitCode: n } : { pid, exitCode: 128 + n, signal: n });
  }
  return records;
}

/**
 * The records appended to file since byte `offset`, and the offset to read from next time. Only
 * complete lines count: a last line without its newline is not yet whole (pause writes each line
 * with one write(2), but a read racing that write may see part of it), so it is left for the
 * next read. A missing file holds no records yet.
 */
export function readExitRecords(file: string, offset: number): { records: ExitRecord[]; offset: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], offset };
    throw e;
  }
  try {
    return readExitRecordsFrom(fd, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * readExitRecords from an open descriptor of the file: a supervisor keeps one, so it still reads
 * pause's records after the pod's directory was removed under the pod (a logout).
 */
export function readExitRecordsFrom(fd: number, offset: number): { records: ExitRecord[]; offset: number } {
  {
    const size = fstatSync(fd).size;
    if (size <= offset) return { records: [], offset };
    const buf = Buffer.alloc(size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const end = got === 0 ? 0 : buf.lastIndexOf(0x0a, got - 1) + 1; // just past the last newline; 0 if none
    return { records: parseExitRecords(buf.subarray(0, end).toString('latin1')), offset: offset + end };
  }
}
