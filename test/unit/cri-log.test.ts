import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LogSink,
  MAX_LOG_LINE_BYTES,
  encodeRecord,
  parseRecord,
  pieceEnd,
  type LogStream,
} from '../../src/logs/cri-log.js';
import {
  containerLogPolicy,
  logFileSeries,
  rotatedLogName,
  rotatedLogNames,
  rotationStamp,
} from '../../src/logs/log-file.js';
import { LogLineJoiner, readContainerLog, tailStart, type ReadAt } from '../../src/logs/log-reader.js';
import { FakeClock } from '../helpers/fixtures.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'podbox-logs-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Records of a file as [stream, tag, text]. */
const records = (file: string) =>
  readFileSync(file)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = parseRecord(Buffer.from(l))!;
      return [r.stream, r.tag, r.text.toString()];
    });

/** What `podbox logs` prints for a file: its lines, joined. */
async function logLines(file: string, tail = -1): Promise<string[]> {
  const out: string[] = [];
  await readContainerLog(file, (_t, _s, parts) => out.push(Buffer.concat(parts).toString()), { tail });
  return out;
}

const errno = (code: string) => Object.assign(new Error(`${code}: injected, write`), { code });

describe('CRI log records', () => {
  it('encodes and parses TIMESTAMP STREAM TAG TEXT', () => {
    const rec = encodeRecord('2026-01-01T00:00:00.000000000Z', 'stderr', 'P', Buffer.from('a b  c'));
    expect(rec.toString()).toBe('2026-01-01T00:00:00.000000000Z stderr P a b  c\n');
    expect(parseRecord(rec.subarray(0, -1))).toEqual({
      time: '2026-01-01T00:00:00.000000000Z',
      stream: 'stderr',
      tag: 'P',
      text: Buffer.from('a b  c'),
    });
    expect(parseRecord(Buffer.from('2026-01-01T00:00:00Z stdout F '))?.text).toEqual(Buffer.alloc(0));
    expect(parseRecord(Buffer.from('2026-01-01T00:00:00Z stdout F:x y'))?.tag).toBe('F');
    expect(parseRecord(Buffer.from('2026-01-01T00:00:00Z stdin F y'))).toBeUndefined();
    expect(parseRecord(Buffer.from('garbage'))).toBeUndefined();
  });

  it('cuts long lines at a UTF-8 character boundary', () => {
    const buf = Buffer.from('ab€d'); // € is 3 bytes: e2 82 ac
    expect(pieceEnd(buf, 0, 3)).toBe(2);
    expect(pieceEnd(buf, 0, 5)).toBe(5);
    expect(pieceEnd(buf, 0, 100)).toBe(6);
    expect(pieceEnd(Buffer.alloc(10, 0x80), 0, 4)).toBe(4); // not UTF-8: cut at the byte
  });
});

describe('LogSink: lines, partial records, lost lines', () => {
  it('writes a line longer than 16 KiB as P records and a last F record; logs joins them', async () => {
    const file = join(tmp(), '0.log');
    const sink = new LogSink(file, undefined, { clock: new FakeClock() });
    const line = Buffer.from('€'.repeat(12_000)); // 36000 bytes, in reads of 1000 bytes
    for (let i = 0; i < line.length; i += 1000) sink.write('stdout', line.subarray(i, i + 1000));
    sink.write('stdout', Buffer.from('\nshort\nno newline'));
    sink.endOfStream('stdout');
    await sink.closed();
    const recs = records(file);
    expect(recs.map(([s, t, x]) => [s, t, Buffer.byteLength(x!)])).toEqual([
      ['stdout', 'P', MAX_LOG_LINE_BYTES - 1],
      ['stdout', 'P', MAX_LOG_LINE_BYTES - 1],
      ['stdout', 'F', 36000 - 2 * (MAX_LOG_LINE_BYTES - 1)],
      ['stdout', 'F', 5],
      ['stdout', 'F', 10],
    ]);
    expect(await logLines(file)).toEqual([line.toString(), 'short', 'no newline']);
  });

  it('a write that fails (ENOSPC, EIO, EFBIG) drops the line, counts it and goes on', async () => {
    const file = join(tmp(), '0.log');
    let failWith: string | undefined;
    const io = {
      write: (fd: number, buf: Buffer, off: number, len: number) => {
        if (!failWith) return writeSync(fd, buf, off, len);
        // half the record reaches the disk, then the write fails: the half must not stay
        if (len > 10) return writeSync(fd, buf, off, 10);
        throw errno(failWith);
      },
    };
    const lost: [number, string][] = [];
    const onLost = (n: number, e: Error) => lost.push([n, e.message]);
    const sink = new LogSink(file, undefined, { clock: new FakeClock(), io, onLost });
    sink.write('stdout', Buffer.from('one\n'));
    failWith = 'ENOSPC';
    sink.write('stdout', Buffer.from('two\nthree\n'));
    failWith = 'EIO';
    sink.write('stderr', Buffer.from(`${'x'.repeat(40_000)}\n`)); // three records, one line
    failWith = undefined;
    sink.write('stdout', Buffer.from('four\n'));
    await sink.closed();
    expect(records(file)).toEqual([
      ['stdout', 'F', 'one'],
      ['stdout', 'F', 'four'],
    ]);
    // the first loss at once, the rest when the sink closes (within a second: one report)
    expect(lost).toEqual([
      [1, 'ENOSPC: injected, write'],
      [2, 'EIO: injected, write'],
    ]);
  });
});

describe('rotation (kubelet container_log_manager.go)', () => {
  it('names rotated files FILE.TIMESTAMP, a second one within the second FILE.TIMESTAMP-N, in order', () => {
    const t = Date.parse('2026-03-04T05:06:07.890Z');
    expect(rotationStamp(t)).toBe('20260304-050607');
    expect(rotatedLogName('0.log', t, ['0.log'])).toBe('0.log.20260304-050607');
    const names = ['0.log', '0.log.20260304-050607'];
    for (let i = 0; i < 11; i++) names.push(rotatedLogName('0.log', t, names));
    expect(names.at(-1)).toBe('0.log.20260304-050607-11');
    expect(rotatedLogName('0.log', t + 1000, names)).toBe('0.log.20260304-050608');
    const shuffled = [...names, '10.log.20260101-000000', '0.log.tmp', '1.log'].reverse();
    expect(rotatedLogNames('0.log', shuffled)).toEqual(names.slice(1));
  });

  it('keeps at most MaxFiles files of at most MaxSize bytes, and logs reads them oldest first', async () => {
    const dir = tmp();
    const file = join(dir, '0.log');
    const clock = new FakeClock();
    const sink = new LogSink(file, undefined, { clock, policy: { maxSize: 200, maxFiles: 3 } });
    for (let i = 0; i < 40; i++) {
      sink.write('stdout', Buffer.from(`line ${String(i).padStart(2, '0')}\n`)); // 48-byte records: 4 a file
      clock.advance(0.5);
    }
    await sink.closed();
    const files = readdirSync(dir).sort();
    expect(files.length).toBe(3);
    expect(logFileSeries(file).map((f) => f.slice(dir.length + 1))).toEqual([
      '0.log.20260101-000016',
      '0.log.20260101-000018',
      '0.log',
    ]);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(200);
    expect(await logLines(file)).toEqual(Array.from({ length: 12 }, (_, i) => `line ${28 + i}`));
    expect(await logLines(file, 5)).toEqual(['line 35', 'line 36', 'line 37', 'line 38', 'line 39']);
  });

  it("keeps the previous instance's log and removes older ones when an instance starts", async () => {
    const dir = tmp();
    const before = ['0.log', '0.log.20260101-000000', '1.log', '1.log.20260101-000001-2', '2.log'];
    before.push('2.log.20260101-000002');
    before.push('12.log.x');
    for (const f of before) writeFileSync(join(dir, f), '');
    await new LogSink(join(dir, '3.log'), undefined, { clock: new FakeClock() }).closed();
    expect(readdirSync(dir).sort()).toEqual(['12.log.x', '2.log', '2.log.20260101-000002', '3.log']);
  });

  it('takes its limits from PODBOX_CONTAINER_LOG_MAX_SIZE and _MAX_FILES, kubelet defaults otherwise', () => {
    expect(containerLogPolicy({})).toEqual({ maxSize: 10 * 1024 * 1024, maxFiles: 5 });
    expect(containerLogPolicy({ PODBOX_CONTAINER_LOG_MAX_SIZE: '64Ki', PODBOX_CONTAINER_LOG_MAX_FILES: '2' })).toEqual({
      maxSize: 65536,
      maxFiles: 2,
    });
    expect(() => containerLogPolicy({ PODBOX_CONTAINER_LOG_MAX_SIZE: 'big' })).toThrow(
      'PODBOX_CONTAINER_LOG_MAX_SIZE=big is not a size',
    );
    expect(() => containerLogPolicy({ PODBOX_CONTAINER_LOG_MAX_FILES: '1' })).toThrow(
      'PODBOX_CONTAINER_LOG_MAX_FILES=1 is not a number of files of 2 or more',
    );
  });
});

describe('reading: joining and --tail from the end', () => {
  const rec = (stream: LogStream, tag: 'F' | 'P', text: string) =>
    encodeRecord('2026-01-01T00:00:00.000000000Z', stream, tag, Buffer.from(text));

  it('joins P records to their F record per stream, whatever the chunks', () => {
    const log = Buffer.concat([
      rec('stdout', 'P', 'hel'),
      rec('stderr', 'F', 'err'),
      rec('stdout', 'P', 'lo '),
      rec('stdout', 'F', 'world'),
      rec('stdout', 'P', 'cut'),
    ]);
    const out: string[] = [];
    const j = new LogLineJoiner((_t, s, parts) => out.push(`${s}:${Buffer.concat(parts)}`));
    for (let i = 0; i < log.length; i++) j.push(log.subarray(i, i + 1));
    j.end();
    expect(out).toEqual(['stderr:err', 'stdout:hello world', 'stdout:cut']);
  });

  it('finds the last N lines reading a bounded number of bytes from the end', () => {
    const lines = 100_000;
    const log = Buffer.concat(Array.from({ length: lines }, (_, i) => rec('stdout', 'F', `line ${i}`)));
    let bytesRead = 0;
    const read: ReadAt = (buf, pos) => {
      const n = log.copy(buf, 0, pos, Math.min(log.length, pos + buf.length));
      bytesRead += n;
      return n;
    };
    const t = tailStart(read, log.length, 1, 4096);
    expect(log.subarray(t.offset).toString()).toBe(rec('stdout', 'F', 'line 99999').toString());
    expect(t.lines).toBe(1);
    expect(bytesRead).toBe(4096); // of a 4.3 MB file
    bytesRead = 0;
    const t3 = tailStart(read, log.length, 1000, 4096);
    expect(log.subarray(t3.offset).toString().split('\n')[0]).toContain('line 99000');
    expect(bytesRead).toBeLessThanOrEqual(1001 * 51 + 4096);
    expect(tailStart(read, log.length, 0, 4096)).toEqual({ offset: log.length, lines: 0 });
    expect(tailStart(read, log.length, lines + 5, 4096)).toEqual({ offset: 0, lines });
  });

  it('counts a long line once, and an unfinished last line as a line; a half-written record not at all', () => {
    const log = Buffer.concat([
      rec('stdout', 'F', 'a'),
      rec('stdout', 'P', 'b1'),
      rec('stdout', 'P', 'b2'),
      rec('stdout', 'F', 'b3'),
      rec('stdout', 'P', 'c1'),
      Buffer.from('2026-01-01T00:00:00Z std'),
    ]);
    const read: ReadAt = (buf, pos) => log.copy(buf, 0, pos, Math.min(log.length, pos + buf.length));
    const start = (n: number) => tailStart(read, log.length, n, 7).offset;
    const after = (off: number) =>
      log
        .subarray(off)
        .toString()
        .split('\n')
        .filter((l) => l.includes(' stdout '))
        .map((l) => l.split(' ')[3]);
    expect(after(start(1))).toEqual(['c1']);
    expect(after(start(2))).toEqual(['b1', 'b2', 'b3', 'c1']);
    expect(start(3)).toBe(0);
    expect(tailStart(read, log.length, 4, 7).lines).toBe(3);
  });
});
