import { describe, it, expect } from 'vitest';
import {
  Tracer,
  formatTraceJson,
  formatTraceText,
  trace,
  traceFormat,
  traced,
  type TraceEvent,
} from '../../src/host/trace.js';
import { idMapText, mountText, parseIdMap } from '../../src/sandbox/trace-steps.js';
import { MS } from '../../src/sandbox/native.js';

const START = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('trace formats', () => {
  const e: TraceEvent = {
    ts: START + 12,
    step: 'userns',
    text: 'created user namespace 4026532555 (pid 1234, pause)',
    pod: 'web',
    pid: 1234,
    ns: 'user',
    inode: 4026532555,
  };

  it('text: time since the start, the step in a column, the sentence', () => {
    expect(formatTraceText(e, START)).toBe(
      'trace   +0.012s  userns    created user namespace 4026532555 (pid 1234, pause)',
    );
    expect(formatTraceText({ ...e, ts: START + 12_345, step: 'mount', container: 'app', text: 'x' }, START)).toBe(
      'trace  +12.345s  mount     app: x',
    );
    // A step said by a process whose clock started later never shows a negative time.
    expect(formatTraceText({ ...e, ts: START - 5 }, START)).toMatch(/^trace {3}\+0\.000s {2}userns/);
  });

  it('json: one object, stable keys, ts as ISO 8601 and elapsed in seconds', () => {
    expect(JSON.parse(formatTraceJson({ ...e, detail: { ranges: [] } }, START))).toEqual({
      ts: '2026-11-30T12:00:00.012Z',
      elapsed: 0.012,
      step: 'userns',
      text: 'created user namespace 4026532555 (pid 1234, pause)',
      pod: 'web',
      pid: 1234,
      ns: 'user',
      inode: 4026532555,
      detail: { ranges: [] },
    });
  });

  it('--trace, --trace=json and PODBOX_TRACE', () => {
    expect(traceFormat(undefined)).toBeUndefined();
    expect(traceFormat(false)).toBeUndefined();
    expect(traceFormat(true)).toBe('text');
    for (const off of ['', '0', 'false', 'off', 'no']) expect(traceFormat(off)).toBeUndefined();
    for (const on of ['1', 'true', 'text', 'yes']) expect(traceFormat(on)).toBe('text');
    expect(traceFormat('JSON')).toBe('json');
  });
});

describe('whose trace a step is', () => {
  it('the tracer of the context the step runs in, across awaits; none outside', async () => {
    const a: TraceEvent[] = [];
    const b: TraceEvent[] = [];
    const ta = new Tracer((e) => a.push(e), 'a');
    const tb = new Tracer((e) => b.push(e), 'b');
    expect(trace()).toBeUndefined();
    await Promise.all([
      traced(ta, async () => {
        await new Promise((r) => setTimeout(r, 5));
        trace()?.step('mount', 'in a');
        // A pod without a tracer, started from a traced one's work, is not traced.
        traced(undefined, () => trace()?.step('mount', 'untraced'));
      }),
      traced(tb, async () => {
        await Promise.resolve();
        trace()?.step('runc', 'in b');
      }),
    ]);
    expect(trace()).toBeUndefined();
    expect(a.map((e) => [e.pod, e.step, e.text])).toEqual([['a', 'mount', 'in a']]);
    expect(b.map((e) => [e.pod, e.step, e.text])).toEqual([['b', 'runc', 'in b']]);
  });

  it('arguments are not evaluated when nothing traces', () => {
    let evaluated = false;
    const words = () => {
      evaluated = true;
      return 'x';
    };
    traced(undefined, () => trace()?.step('mount', words()));
    expect(evaluated).toBe(false);
  });
});

describe('sandbox steps in words', () => {
  it('reads /proc/PID/uid_map as the kernel prints it', () => {
    const ranges = parseIdMap('         0       1000          1\n         1     100000      65535\n');
    expect(ranges).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 65535 },
    ]);
    expect(idMapText(ranges)).toBe('0→1000 (1 id), 1→100000 (65535 ids)');
  });

  it('mounts', () => {
    expect(
      mountText({
        source: 'overlay',
        target: '/p/rootfs',
        fstype: 'overlay',
        flags: 0,
        data: 'lowerdir=/i/rootfs,upperdir=/p/upper,workdir=/p/work',
      }),
    ).toBe(
      'overlay on /p/rootfs: lowerdir=/i/rootfs (the image, read-only) upperdir=/p/upper ' +
        "(the container's writes) workdir=/p/work",
    );
    expect(mountText({ source: 'tmpfs', target: '/p/shm', fstype: 'tmpfs', flags: 6, data: 'mode=0777' })).toBe(
      'tmpfs (memory) on /p/shm mode=0777',
    );
    expect(mountText({ source: '/a', target: '/b', flags: MS.BIND })).toBe('bind /a on /b');
    expect(mountText({ target: '/b', flags: MS.REMOUNT | MS.BIND | MS.RDONLY })).toBe('remount /b read-only');
  });
});
