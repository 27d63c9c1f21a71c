import { describe, it, expect } from 'vitest';
import { freeSubordinateRange, addSubordinateRangeCommand } from '../../src/sandbox/idmap.js';

describe('a free subordinate range for a user who has none (doctor, the single-id warning)', () => {
  it("is useradd's first range when the files are empty or missing", () => {
    expect(freeSubordinateRange('', '')).toEqual({ start: 100000, count: 65536 });
  });

  it('is the next useradd step after the ranges already given', () => {
    const taken = 'alice:100000:65536\nbob:165536:65536\n';
    expect(freeSubordinateRange(taken, taken)).toEqual({ start: 231072, count: 65536 });
  });

  it('lies above every range of both files, whoever holds it and however it is aligned', () => {
    const subuid = 'alice:100000:65536\n1002:300000:1000\n';
    const subgid = 'alice:100000:65536\ncarol:500000:70000\n';
    // highest end: 570000 → the first step of 65536 from 100000 at or above it: 100000 + 8 × 65536
    expect(freeSubordinateRange(subuid, subgid)).toEqual({ start: 624288, count: 65536 });
  });

  it('ignores ranges below 100000, comments and malformed lines', () => {
    const text = '# comment\nold:10000:5000\nbroken\nbad:x:y\nzero:200000:0\n';
    expect(freeSubordinateRange(text, '')).toEqual({ start: 100000, count: 65536 });
  });

  it('is one usermod line for uids and gids', () => {
    expect(addSubordinateRangeCommand('dave', 'pbtest:100000:65536\n', 'pbtest:100000:65536\n')).toBe(
      'sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 dave',
    );
  });
});
