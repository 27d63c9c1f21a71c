import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { parseRecord, type LogStream } from './cri-log.js';
import { logFileSeries } from './log-file.js';

/**
 * Reading a container's CRI log back, as the kubelet's pkg/kubelet/kuberuntime/logs/logs.go
 * ReadLogs does for `kubectl logs`: records parsed, P records joined to their F record into one
 * line, `--tail` found from the end of the file without reading the rest (as
 * pkg/util/tail/tail.go FindTailLineStartIndex does), `--follow` across rotations. Unlike kubectl,
 * which reads only the current file, the rotated files are read too, oldest first.
 */

/** Reads into `buf` from `position`; returns the bytes read (0 at the end). Injected by tests. */
export type ReadAt = (buf: Buffer, position: number) => number;

/** A whole line: its first record's time, and its bytes in pieces (one per record). */
export type EmitLine = (time: string, stream: LogStream, parts: Buffer[]) => void;

const CHUNK = 64 * 1024;
/** Enough bytes of a record to hold its timestamp, stream and tag. */
const HEAD = 128;
const NL = 0x0a;

/** Newlines from the end of the file backwards; `at` -1 last, for the record that starts the file. */
function* newlinesBackward(read: ReadAt, size: number, chunkSize: number): Generator<{ at: number; next: Buffer }> {
  let hi = size;
  // the first HEAD bytes at `hi`, from the chunk read before
  let after = Buffer.alloc(0);
  while (hi > 0) {
    const lo = Math.max(0, hi - chunkSize);
    const buf = Buffer.alloc(hi - lo);
    for (let got = 0; got < buf.length;) {
      const n = read(buf.subarray(got), lo + got);
      if (n <= 0) break; // the file shrank: the rest reads as zeros, which hold no newline
      got += n;
    }
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] !== NL) continue;
      const rest = buf.subarray(i + 1);
      const next = rest.length >= HEAD ? rest.subarray(0, HEAD) : Buffer.concat([rest, after]);
      yield { at: lo + i, next };
    }
    after = buf.length >= HEAD ? buf.subarray(0, HEAD) : Buffer.concat([buf, after]).subarray(0, HEAD);
    hi = lo;
  }
  yield { at: -1, next: after };
}

function tagOf(head: Buffer): 'F' | 'P' {
  const nl = head.indexOf(NL);
  return parseRecord(nl < 0 ? head : head.subarray(0, nl))?.tag ?? 'F';
}

/**
 * Where the last `n` lines of one log file start, reading it backwards a chunk at a time: the
 * bytes read are the last n lines plus at most one chunk, whatever the file's size. A line is a
 * run of P records ended by an F record; a last line whose F record is not written yet counts
 * as a line. Bytes after the last newline (a record being written) are not counted.
 * `lines` < n: the file holds only that many, and they start at 0.
 */
export function tailStart(read: ReadAt, size: number, n: number, chunkSize = CHUNK): { offset: number; lines: number } {
  const newlines = newlinesBackward(read, size, chunkSize);
  const last = newlines.next();
  if (last.done || last.value.at < 0) return { offset: 0, lines: 0 };
  const dataEnd = last.value.at + 1;
  if (n === 0) return { offset: dataEnd, lines: 0 };
  // Each F record that is not the last record ends a line: the next line starts where it ends.
  let end = dataEnd;
  let starts = 0;
  for (const { at, next } of newlines) {
    if (tagOf(next) === 'F' && end < dataEnd && ++starts === n) return { offset: end, lines: n };
    end = at + 1;
  }
  return { offset: 0, lines: starts + 1 };
}

/** Joins records into lines, as they arrive in chunks of any size. */
export class LogLineJoiner {
  private rest: Buffer[] = [];
  private readonly partial: Partial<Record<LogStream, { time: string; parts: Buffer[] }>> = {};

  constructor(private readonly emit: EmitLine) {}

  /** A chunk read from the file; the joiner may keep references to it. */
  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, start)) {
      let raw = chunk.subarray(start, nl);
      if (this.rest.length) {
        raw = Buffer.concat([...this.rest, raw]);
        this.rest = [];
      }
      this.record(raw);
      start = nl + 1;
    }
    if (start < chunk.length) this.rest.push(chunk.subarray(start));
  }

  /** The end of the log: a line whose F record never came is shown as far as it goes. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.partial[stream];
      if (p) this.emit(p.time, stream, p.parts);
      delete this.partial[stream];
    }
  }

  private record(raw: Buffer): void {
    const r = parseRecord(raw);
    if (!r) return;
    const p = this.partial[r.stream];
    if (r.tag === 'P') {
      if (p) p.parts.push(r.text);
      else this.partial[r.stream] = { time: r.time, parts: [r.text] };
      return;
    }
    delete this.partial[r.stream];
    // kubectl logs --timestamps: the line's time is its first record's.
    this.emit(p ? p.time : r.time, r.stream, p ? [...p.parts, r.text] : [r.text]);
  }
}

function tryOpen(file: string): number | undefined {
  try {
    return openSync(file, 'r');
  } catch {
    return undefined;
  }
}

const readerOf =
  (fd: number): ReadAt =>
  (buf, pos) =>
    readSync(fd, buf, 0, buf.length, pos);

/** Where `--tail n` starts in a series of files (oldest first): a file's index and an offset in it. */
export function tailPosition(files: string[], n: number): { index: number; offset: number } {
  if (n < 0) return { index: 0, offset: 0 };
  let need = n;
  for (let i = files.length - 1; i >= 0; i--) {
    const fd = tryOpen(files[i]!);
    if (fd === undefined) continue;
    try {
      const t = tailStart(readerOf(fd), fstatSync(fd).size, need);
      if (t.lines >= need) return { index: i, offset: t.offset };
      need -= t.lines;
    } finally {
      closeSync(fd);
    }
  }
  return { index: 0, offset: 0 };
}

/** Reads an open file from `pos` to its current end into the joiner; returns the new position. */
function drain(fd: number, pos: number, joiner: LogLineJoiner): number {
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK);
    const n = readSync(fd, buf, 0, CHUNK, pos);
    if (n <= 0) return pos;
    joiner.push(buf.subarray(0, n));
    pos += n;
  }
}

function inode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

export interface ReadLogOptions {
  /** the last N lines; -1: all */
  tail: number;
  /** follow: called before each poll; the log is read to its end once more after it says false */
  running?: () => boolean;
  /** called after each poll's output, before waiting (to flush what was printed) */
  idle?: () => void;
  pollMs?: number;
}

/**
 * Prints one container instance's log: its rotated files, oldest first, then the current file
 * (and, following, what is written to it, across rotations) through `emit`, a line at a time.
 */
export async function readContainerLog(file: string, emit: EmitLine, o: ReadLogOptions): Promise<void> {
  const joiner = new LogLineJoiner(emit);
  const files = logFileSeries(file);
  const start = tailPosition(files, o.tail);
  for (let i = start.index; i < files.length - 1; i++) {
    const fd = tryOpen(files[i]!);
    if (fd === undefined) continue; // removed by a rotation meanwhile
    try {
      drain(fd, i === start.index ? start.offset : 0, joiner);
    } finally {
      closeSync(fd);
    }
  }
  let fd = tryOpen(file);
  let pos = start.index === files.length - 1 ? start.offset : 0;
  try {
    for (;;) {
      const alive = o.running?.() ?? false;
      if (fd === undefined) fd = tryOpen(file);
      if (fd !== undefined) {
        pos = drain(fd, pos, joiner);
        const ino = fstatSync(fd).ino;
        if (inode(file) !== ino && o.running) {
          // Rotated: the writer renamed this file and started a new one. Read the files rotated
          // after this one (if it rotated more than once since the last poll), then the new file.
          // Records written between the first drain and the rename are still in this file.
          drain(fd, pos, joiner);
          const series = logFileSeries(file);
          const at = series.findIndex((f) => inode(f) === ino);
          closeSync(fd);
          fd = undefined;
          for (const f of at < 0 ? [] : series.slice(at + 1, -1)) {
            const rfd = tryOpen(f);
            if (rfd !== undefined)
              try {
                drain(rfd, 0, joiner);
              } finally {
                closeSync(rfd);
              }
          }
          pos = 0;
          continue;
        }
      }
      if (!alive) break;
      o.idle?.();
      await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  joiner.end();
}
