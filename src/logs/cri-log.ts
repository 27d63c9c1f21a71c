import { Socket } from 'node:net';
import { openSync, writeSync, closeSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Container logs in the CRI log format the kubelet reads (one line each:
 * `2026-01-02T03:04:05.123456789Z stdout F text`; P marks a partial line), see
 * https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 */
export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  time: string;
  stream: LogStream;
  text: string;
}

/** RFC 3339 with nanoseconds, as the kubelet writes (millisecond precision here). */
export function logTimestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

/**
 * Collects one container instance's stdout and stderr pipes into its log file, line by line,
 * and hands each line to `echo` (the foreground run prints it prefixed with the container name).
 */
export class LogSink {
  private readonly fd: number;
  private open = 0;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(file: string, private readonly echo?: (stream: LogStream, text: string) => void) {
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(file, 'a', 0o600);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Reads a pipe's read end until EOF. */
  attach(stream: LogStream, readFd: number): void {
    this.open++;
    const sock = new Socket({ fd: readFd, readable: true, writable: false });
    let partial = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const l of lines) this.line(stream, l, 'F');
      // Bound a line without newline as the kubelet does (16 KiB), as a partial record.
      if (partial.length > 16384) { this.line(stream, partial, 'P'); partial = ''; }
    });
    const end = () => {
      if (partial) this.line(stream, partial, 'F');
      partial = '';
      if (--this.open === 0) this.resolveDone();
    };
    sock.once('close', end);
    sock.on('error', () => {});
  }

  /** A line written by podbox itself into the container's log (e.g. hook output, later). */
  line(stream: LogStream, text: string, tag: 'F' | 'P' = 'F'): void {
    writeSync(this.fd, `${logTimestamp()} ${stream} ${tag} ${text}\n`);
    this.echo?.(stream, text);
  }

  /** Resolves once every attached pipe reached EOF; then closes the file. */
  async closed(): Promise<void> {
    if (this.open > 0) await this.done;
    closeSync(this.fd);
  }
}

export function parseLogLine(raw: string): LogLine | undefined {
  const a = raw.indexOf(' ');
  const b = raw.indexOf(' ', a + 1);
  const c = raw.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = raw.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  return { time: raw.slice(0, a), stream, text: raw.slice(c + 1) };
}

export function readLogFile(file: string): LogLine[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map(parseLogLine).filter((l): l is LogLine => l !== undefined);
}
