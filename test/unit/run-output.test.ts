import { describe, it, expect, vi } from 'vitest';
import type { Pod } from '../../src/api/types.js';
import type { PodStatus } from '../../src/api/status.js';
import { colourWanted, stoppingLine, summaryLine } from '../../src/cli/run-output.js';
import { runEnding, runEndingHooks, TIMEOUT_EXIT } from '../../src/lifecycle/run-deadline.js';

const pod = {
  metadata: { name: 'ci' },
  spec: {
    initContainers: [{ name: 'db', image: 'x', restartPolicy: 'Always' }],
    containers: [{ name: 'tests', image: 'x' }],
  },
} as unknown as Pod;

const terminated = (exitCode: number, startedAt: string, finishedAt: string) => ({
  terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', startedAt, finishedAt },
});

describe('what a foreground run prints for CI logs', () => {
  it('colour: FORCE_COLOR forces it, NO_COLOR forbids it, else a terminal that is not dumb', () => {
    expect(colourWanted({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourWanted({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { FORCE_COLOR: '', NO_COLOR: '1' })).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourWanted({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
  });

  it('a grace period is said only when there is one to wait', () => {
    expect(stoppingLine('db', 'SIGTERM', 30)).toBe('stopping db: SIGTERM sent, waiting up to 30s');
    expect(stoppingLine('db', 'SIGINT', 0)).toBeUndefined();
  });

  it("the summary: phase, duration and exit status, then each container's last exit, run time and restarts", () => {
    const status = {
      phase: 'Succeeded',
      initContainerStatuses: [
        {
          name: 'db',
          restartCount: 0,
          state: terminated(143, '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z'),
          lastState: {},
        },
      ],
      containerStatuses: [
        {
          name: 'tests',
          restartCount: 1,
          state: terminated(0, '2026-01-01T00:00:02Z', '2026-01-01T00:00:04Z'),
          lastState: terminated(1, '2026-01-01T00:00:01Z', '2026-01-01T00:00:01Z'),
        },
      ],
    } as unknown as PodStatus;
    expect(summaryLine(pod, status, { exitCode: 0, elapsedMs: 6200, colour: false })).toBe(
      'pod "ci" Succeeded in 6s (exit 0): db exited 143 after 5s, 0 restarts; tests exited 0 after 2s, 1 restart',
    );
    expect(summaryLine(pod, status, { exitCode: 0, elapsedMs: 6200, colour: true })).toBe(
      'pod "ci" Succeeded in 6s (\x1b[32mexit 0\x1b[0m): \x1b[36mdb\x1b[0m exited \x1b[31m143\x1b[0m after 5s, 0 restarts; ' +
        '\x1b[33mtests\x1b[0m exited \x1b[32m0\x1b[0m after 2s, 1 restart',
    );
    const never = {
      ...status,
      containerStatuses: [
        { name: 'tests', restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, lastState: {} },
      ],
    };
    expect(summaryLine(pod, never as PodStatus, { exitCode: 124, elapsedMs: 1000, colour: false })).toBe(
      'pod "ci" Succeeded in 1s (exit 124): db exited 143 after 5s, 0 restarts; tests never ran, 0 restarts',
    );
  });
});

describe('--timeout and --exit-code-from', () => {
  it('parses the duration as kubectl does and names what is wrong', () => {
    expect(runEnding(pod, { timeout: '1m30s', exitCodeFrom: 'tests' })).toEqual({
      timeoutMs: 90_000,
      exitCodeFrom: 'tests',
    });
    expect(() => runEnding(pod, { timeout: '0s' })).toThrow('--timeout "0s" is not a positive duration');
    expect(() => runEnding(pod, { exitCodeFrom: 'db' })).toThrow('that is an init container of pod "ci"');
    expect(() => runEnding(pod, { exitCodeFrom: 'tests', detach: true })).toThrow(
      '--exit-code-from ends a foreground run',
    );
  });

  it('ends the run once: 124 when the time is up, or the first exit code of NAME', () => {
    vi.useFakeTimers();
    try {
      const ended: number[] = [];
      const timed = runEndingHooks({ timeoutMs: 1000, exitCodeFrom: 'tests' });
      const stop = timed.ending((code) => ended.push(code));
      timed.exited('db', 3);
      vi.advanceTimersByTime(999);
      expect(ended).toEqual([]);
      vi.advanceTimersByTime(1);
      timed.exited('tests', 5);
      expect(ended).toEqual([TIMEOUT_EXIT]);
      stop();

      const first = runEndingHooks({ timeoutMs: 1000, exitCodeFrom: 'tests' });
      const got: number[] = [];
      const stopFirst = first.ending((code) => got.push(code));
      first.exited('tests', 5);
      first.exited('tests', 6);
      vi.advanceTimersByTime(5000);
      expect(got).toEqual([5]);
      stopFirst();
    } finally {
      vi.useRealTimers();
    }
  });
});
