import { Socket } from 'node:net';
import { systemClock, type Clock } from '../lifecycle/timing.js';
import {
  ContainerLogFile,
  containerLogPolicy,
  removeOldInstanceLogs,
  type ContainerLogPolicy,
  type LogFileIo,
} from './log-file.js';

/**
 * Container logs in the CRI log format the kubelet reads (one record a line:
 * `2026-01-02T03:04:05.123456789Z stdout F text`), see
 * https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 * A line longer than MAX_LOG_LINE_BYTES is written as records tagged P (partial) and a last one
 * tagged F (full); readers join them again (log-reader.ts).
 */
export type LogStream = 'stdout' | 'stderr';
export type LogTag = 'F' | 'P';

export interface LogRecord {
  time: string;
  stream: LogStream;
  tag: LogTag;
  text: Buffer;
}

/**
 * The longest record text: containerd's default max_container_log_line_size (16 KiB,
 * pkg/cri/config, used by pkg/cri/io/logger.go redirectLogs) and docker's json-file buffer size.
 */
export const MAX_LOG_LINE_BYTES = 16 * 1024;

/** RFC 3339 with nanoseconds, as the kubelet writes (millisecond precision here). */
export function logTimestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

export function encodeRecord(time: string, stream: LogStream, tag: LogTag, text: Buffer): Buffer {
  const head = Buffer.from(`${time} ${stream} ${tag} `);
  return Buffer.concat([head, text, NEWLINE], head.length + text.length + 1);
}

/** One record without its newline; undefined when it is not a CRI record. */
export function parseRecord(raw: Buffer): LogRecord | undefined {
  const a = raw.indexOf(SPACE);
  const b = a < 0 ? -1 : raw.indexOf(SPACE, a + 1);
  if (b < 0) return undefined;
  const stream = raw.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  // The tag field may carry more tags after a colon in later CRI versions ("F:x"); only F/P matter.
  const c = raw.indexOf(SPACE, b + 1);
  const tagField = raw.toString('latin1', b + 1, c < 0 ? raw.length : c);
  const tag: LogTag = tagField.split(':')[0] === 'P' ? 'P' : 'F';
  return { time: raw.toString('latin1', 0, a), stream, tag, text: c < 0 ? Buffer.alloc(0) : raw.subarray(c + 1) };
}

/**
 * Where to cut `buf` so the piece starting at `start` is at most `max` bytes: before a UTF-8
 * continuation byte never, so each piece decodes alone (containerd cuts at the byte; a reader that
 * joins the pieces gets the same bytes either way).
 */
export function pieceEnd(buf: Buffer, start: number, max: number): number {
  const end = Math.min(buf.length, start + max);
  if (end === buf.length) return end;
  // buf[e] starts the next piece: step back over at most 3 continuation bytes (10xxxxxx).
  let e = end;
  while (e > end - 3 && e > start + 1 && (buf[e]! & 0xc0) === 0x80) e--;
  return (buf[e]! & 0xc0) === 0x80 ? end : e;
}

const SPACE = 0x20;
const NEWLINE = Buffer.from('\n');

const newStreamState = (): StreamState => ({ pending: [], pendingBytes: 0, damaged: false });

interface StreamState {
  /** bytes of the current line not written yet (at most MAX_LOG_LINE_BYTES plus one read) */
  pending: Buffer[];
  pendingBytes: number;
  /** a record of the current line was lost: the line counts as lost once, when it ends */
  damaged: boolean;
}

export interface LogSinkOptions {
  policy?: ContainerLogPolicy;
  clock?: Clock;
  io?: LogFileIo;
  /**
   * Log lines that could not be written (disk full, I/O error, file size limit): called at the
   * first loss, then at most once a second and when the sink closes, with the lines lost since.
   */
  onLost?: (lines: number, error: Error) => void;
}

/** How often lost lines are reported after the first. */
const LOST_REPORT_INTERVAL_MS = 1000;

/**
 * Collects one container instance's stdout and stderr pipes into its log file, line by line,
 * and hands each record to `echo` (the foreground run prints it prefixed with the container name).
 *
 * A write that fails never stops the reading: the pipes keep being drained so the container never
 * blocks on a full pipe, and the lost lines are counted and reported through `onLost`, as
 * containerd's pkg/cri/io/logger.go redirectLogs continues on a write error "to drain the container
 * output".
 */
export class LogSink {
  private readonly file: ContainerLogFile;
  private readonly clock: Clock;
  private open = 0;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  private lost = 0;
  private lostError?: Error;
  private lostTimer?: NodeJS.Timeout;
  private readonly streams: Record<LogStream, StreamState> = { stdout: newStreamState(), stderr: newStreamState() };
  private readonly sockets: Socket[] = [];

  constructor(
    file: string,
    private readonly echo?: (stream: LogStream, text: string) => void,
    private readonly options: LogSinkOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.file = new ContainerLogFile(file, options.policy ?? containerLogPolicy(), this.clock, options.io);
    removeOldInstanceLogs(file);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /**
   * Stops reading without waiting for EOF (the pod is handed to another supervisor, which reads
   * the rest): what was read is in the file; the part of a line not ended yet is not.
   */
  detach(): void {
    for (const sock of this.sockets) sock.destroy();
  }

  /** Reads a pipe's read end until EOF. */
  attach(stream: LogStream, readFd: number): void {
    this.open++;
    const sock = new Socket({ fd: readFd, readable: true, writable: false });
    this.sockets.push(sock);
    sock.on('data', (chunk: Buffer) => this.write(stream, chunk));
    sock.once('close', () => {
      this.endOfStream(stream);
      if (--this.open === 0) this.resolveDone();
    });
    sock.on('error', () => {});
  }

  /** Output read from a stream's pipe (attach's reader; public so tests can feed it). */
  write(stream: LogStream, chunk: Buffer): void {
    const st = this.streams[stream];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.add(stream, st, chunk.subarray(start, nl));
      this.endLine(stream, st);
      start = nl + 1;
    }
    if (start < chunk.length) this.add(stream, st, chunk.subarray(start));
  }

  /** The stream reached EOF: a last line without a newline is written whole (F), as containerd does. */
  endOfStream(stream: LogStream): void {
    const st = this.streams[stream];
    if (st.pendingBytes > 0) this.endLine(stream, st);
  }

  /** A line written by podbox itself into the container's log (hook output). */
  line(stream: LogStream, text: string): void {
    const st = newStreamState();
    this.add(stream, st, Buffer.from(text));
    this.endLine(stream, st);
  }

  /** Resolves once every attached pipe reached EOF; then closes the file and reports what was lost. */
  async closed(): Promise<void> {
    if (this.open > 0) await this.done;
    this.file.close();
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    this.reportLost();
  }

  /** Adds bytes without a newline to the current line; writes P records while it is too long. */
  private add(stream: LogStream, st: StreamState, bytes: Buffer): void {
    if (bytes.length === 0) return;
    st.pending.push(bytes);
    st.pendingBytes += bytes.length;
    if (st.pendingBytes <= MAX_LOG_LINE_BYTES) return;
    // More than one record's worth and no newline yet: as containerd, write full-size P records.
    const buf = Buffer.concat(st.pending, st.pendingBytes);
    let start = 0;
    while (buf.length - start > MAX_LOG_LINE_BYTES) {
      const end = pieceEnd(buf, start, MAX_LOG_LINE_BYTES);
      this.record(stream, st, 'P', buf.subarray(start, end));
      start = end;
    }
    st.pending = [buf.subarray(start)];
    st.pendingBytes = buf.length - start;
  }

  private endLine(stream: LogStream, st: StreamState): void {
    const text = st.pending.length === 1 ? st.pending[0]! : Buffer.concat(st.pending, st.pendingBytes);
    st.pending = [];
    st.pendingBytes = 0;
    this.record(stream, st, 'F', text);
    if (st.damaged) this.countLost();
    st.damaged = false;
  }

  private record(stream: LogStream, st: StreamState, tag: LogTag, text: Buffer): void {
    try {
      this.file.append(encodeRecord(logTimestamp(this.clock.now()), stream, tag, text));
    } catch (e) {
      st.damaged = true;
      this.lostError = e as Error;
    }
    this.echo?.(stream, text.toString('utf8'));
  }

  private countLost(): void {
    this.lost++;
    if (this.lostTimer) return;
    this.reportLost();
    // Later losses are reported together, so a container writing fast to a full disk costs one
    // event update a second rather than one a line.
    this.lostTimer = setTimeout(() => this.lostTick(), LOST_REPORT_INTERVAL_MS);
  }

  private lostTick(): void {
    this.lostTimer = undefined;
    if (this.lost === 0) return;
    this.reportLost();
    this.lostTimer = setTimeout(() => this.lostTick(), LOST_REPORT_INTERVAL_MS);
  }

  private reportLost(): void {
    if (this.lost === 0) return;
    const n = this.lost;
    this.lost = 0;
    this.options.onLost?.(n, this.lostError!);
  }
}
