import { describe, it, expect } from 'vitest';
import { tableRow } from '../../src/cli/get.js';
import { humanDuration } from '../../src/kubectl/duration.js';
import { PodMachine } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';

describe('kubectl get pods columns', () => {
  it('Init:0/1, then Running 1/1, then Completed', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({ initContainers: [container('init')], restartPolicy: 'Never' }),
      clock,
      KUBELET_BACKOFF,
    );
    const created = new Date(clock.t).toISOString();
    m.actions();
    m.started('init', 'x');
    expect(tableRow(m.status(), created, clock.t + 5000, false)).toEqual({
      ready: '0/1',
      status: 'Init:0/1',
      restarts: '0',
      age: '5s',
    });
    m.exited('init', 0);
    m.actions();
    m.started('app', 'x');
    expect(tableRow(m.status(), created, clock.t, false).status).toBe('Running');
    expect(tableRow(m.status(), created, clock.t, false).ready).toBe('1/1');
    m.exited('app', 0);
    expect(tableRow(m.status(), created, clock.t, false)).toMatchObject({ ready: '0/1', status: 'Completed' });
    expect(tableRow(m.status(), created, clock.t, true).status).toBe('Terminating');
  });
  it('Init:Error and CrashLoopBackOff', () => {
    const clock = new FakeClock();
    const failed = new PodMachine(
      pod({ initContainers: [container('init')], restartPolicy: 'Never' }),
      clock,
      KUBELET_BACKOFF,
    );
    failed.actions();
    failed.started('init', 'x');
    failed.exited('init', 1);
    expect(tableRow(failed.status(), new Date(clock.t).toISOString(), clock.t, false).status).toBe('Init:Error');
    const loop = new PodMachine(pod(), clock, KUBELET_BACKOFF);
    loop.actions();
    loop.started('app', 'x');
    loop.exited('app', 1);
    loop.actions();
    loop.started('app', 'x');
    loop.exited('app', 1);
    clock.advance(3);
    expect(tableRow(loop.status(), new Date(clock.t).toISOString(), clock.t, false)).toMatchObject({
      status: 'CrashLoopBackOff',
      restarts: '1 (3s ago)',
    });
  });
  it('human durations as kubectl prints them', () => {
    expect([59_000, 119_000, 150_000, 600_000, 7_200_000, 90_000_000].map(humanDuration)).toEqual([
      '59s',
      '119s',
      '2m30s',
      '10m',
      '120m',
      '25h',
    ]);
  });
});

describe('kubectl table with native sidecars', () => {
  it('a started sidecar counts in READY; after the app completes the pod shows Completed', () => {
    const clock = new FakeClock();
    const created = new Date(clock.t).toISOString();
    const sidecars = new Set(['proxy']);
    const m = new PodMachine(
      pod({
        restartPolicy: 'Never',
        initContainers: [container('proxy', { restartPolicy: 'Always' })],
        containers: [container('app')],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('proxy', 'p');
    m.actions();
    m.started('app', 'a');
    expect(tableRow(m.status(), created, clock.t, false, sidecars)).toMatchObject({ ready: '2/2', status: 'Running' });
    m.exited('app', 0);
    m.actions();
    m.exited('proxy', 143);
    expect(tableRow(m.status(), created, clock.t, false, sidecars)).toMatchObject({
      ready: '0/2',
      status: 'Completed',
    });
  });
});
