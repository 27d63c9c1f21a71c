import { describe, it, expect, afterEach } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExitRecords, readExitRecords } from '../../src/sandbox/exit-records.js';

describe('parseExitRecords', () => {
  it('reads exit codes, and a kill by signal N as exit code 128 + N keeping the signal', () => {
    expect(parseExitRecords('12 exited 0\n13 exited 7\n14 killed 9\n15 killed 15\n')).toEqual([
      { pid: 12, exitCode: 0 },
      { pid: 13, exitCode: 7 },
      { pid: 14, exitCode: 137, signal: 9 },
      { pid: 15, exitCode: 143, signal: 15 },
    ]);
  });

  it('skips what is not a record', () => {
    expect(parseExitRecords('\n12 exited\nx exited 1\n12 stopped 19\n 3 exited 1\n4 exited 1 \n5 exited 2\n')).toEqual([
      { pid: 5, exitCode: 2 },
    ]);
  });
});

describe('readExitRecords', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the complete lines after an offset and the offset to go on from', () => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-exits-'));
    const file = join(dir, 'exits');
    expect(readExitRecords(file, 0)).toEqual({ records: [], offset: 0 });

    appendFileSync(file, '12 exited 0\n13 kil');
    const first = readExitRecords(file, 0);
    expect(first).toEqual({ records: [{ pid: 12, exitCode: 0 }], offset: 12 });
    expect(readExitRecords(file, first.offset)).toEqual({ records: [], offset: 12 });

    appendFileSync(file, 'led 9\n140 exited 1\n');
    expect(readExitRecords(file, first.offset)).toEqual({
      records: [
        { pid: 13, exitCode: 137, signal: 9 },
        { pid: 140, exitCode: 1 },
      ],
      offset: 37,
    });
    expect(readExitRecords(file, 37)).toEqual({ records: [], offset: 37 });
  });
});
