import { describe, it, expect } from 'vitest';
import { PodMachine, type Action } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF, backoffPolicy, goDuration } from '../../src/lifecycle/timing.js';
import { container, pod, FakeClock } from './fixtures.js';

const starts = (a: Action[]) => a.filter((x) => x.type === 'start').map((x) => (x as { container: string }).container);
const status = (m: PodMachine, name: string) =>
  [...(m.status().initContainerStatuses ?? []), ...m.status().containerStatuses].find((c) => c.name === name)!;

describe('PodMachine: init containers then app containers', () => {
  it('runs init containers one at a time, in order, then all app containers together', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ initContainers: [container('i1'), container('i2')], containers: [container('a'), container('b')], restartPolicy: 'Never' }), clock, KUBELET_BACKOFF);
    m.sandboxReady();
    expect(starts(m.actions())).toEqual(['i1']);
    m.started('i1', 'x');
    expect(m.actions()).toEqual([]);
    expect(m.status().phase).toBe('Pending');
    m.exited('i1', 0);
    expect(starts(m.actions())).toEqual(['i2']);
    m.started('i2', 'x');
    m.exited('i2', 0);
    expect(m.status().conditions.find((c) => c.type === 'Initialized')?.status).toBe('True');
    expect(starts(m.actions())).toEqual(['a', 'b']);
    m.started('a', 'x');
    m.started('b', 'x');
    expect(m.status().phase).toBe('Running');
    expect(m.status().conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    m.exited('a', 0);
    m.exited('b', 0);
    expect(m.status().phase).toBe('Succeeded');
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.exitCode()).toBe(0);
    expect(status(m, 'a').state).toEqual({ terminated: { exitCode: 0, reason: 'Completed', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:00Z', containerID: 'x' } });
  });

  it('a failed init container under restartPolicy Never fails the pod; no app container starts', () => {
    const m = new PodMachine(pod({ initContainers: [container('init')], containers: [container('app')], restartPolicy: 'Never' }), new FakeClock(), KUBELET_BACKOFF);
    expect(starts(m.actions())).toEqual(['init']);
    m.started('init', 'x');
    m.exited('init', 7);
    const actions = m.actions();
    expect(starts(actions)).toEqual([]);
    expect(actions).toEqual([{ type: 'teardown' }]);
    expect(m.status().phase).toBe('Failed');
    expect(m.exitCode()).toBe(7);
    expect(status(m, 'app').state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });

  it('exit status: the first failed container in spec order', () => {
    const m = new PodMachine(pod({ containers: [container('a'), container('b')], restartPolicy: 'Never' }), new FakeClock(), KUBELET_BACKOFF);
    m.actions();
    m.started('a', 'x'); m.started('b', 'x');
    m.exited('b', 4);
    m.exited('a', 3);
    expect(m.status().phase).toBe('Failed');
    expect(m.exitCode()).toBe(3);
  });
});

describe('PodMachine: restarts with the kubelet back-off', () => {
  it('restarts at once, then after 10 s, 20 s, 40 s ... capped at 300 s', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ restartPolicy: 'Always' }), clock, KUBELET_BACKOFF);
    expect(starts(m.actions())).toEqual(['app']);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      m.started('app', 'x');
      clock.advance(1);
      m.exited('app', 1);
      let waited = 0;
      while (starts(m.actions()).length === 0) { clock.advance(1); waited++; }
      delays.push(waited);
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 300, 300]);
    expect(status(m, 'app').restartCount).toBe(8);
  });

  it('shows CrashLoopBackOff with the kubelet message and a BackOff event', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ restartPolicy: 'OnFailure' }), clock, KUBELET_BACKOFF);
    m.actions(); m.started('app', 'x'); m.exited('app', 2);
    m.actions(); m.started('app', 'x'); m.exited('app', 2);
    expect(m.actions()).toEqual([]);
    const s = status(m, 'app');
    expect(s.state).toEqual({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=app pod=demo_default(1111-2222)' } });
    expect(s.restartCount).toBe(1);
    expect('terminated' in s.lastState && s.lastState.terminated.exitCode).toBe(2);
    expect(m.wakeAt()).toBe(clock.t + 10_000);
    expect(m.eventLog().find((e) => e.reason === 'BackOff')?.message).toBe('Back-off restarting failed container app in pod demo_default(1111-2222)');
    expect(m.status().phase).toBe('Running');
  });

  it('OnFailure does not restart a container that succeeded; Never restarts nothing', () => {
    const m = new PodMachine(pod({ restartPolicy: 'OnFailure' }), new FakeClock(), KUBELET_BACKOFF);
    m.actions(); m.started('app', 'x'); m.exited('app', 0);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.status().phase).toBe('Succeeded');
  });

  it('resets the back-off after 10 minutes of running', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod(), clock, KUBELET_BACKOFF);
    m.actions(); m.started('app', 'x'); m.exited('app', 1);
    m.actions(); m.started('app', 'x'); m.exited('app', 1);
    clock.advance(10); m.actions(); m.started('app', 'x');
    clock.advance(601);
    m.exited('app', 1);
    expect(starts(m.actions())).toEqual(['app']);
  });

  it('the testing knob shortens the constants, the defaults are the kubelet\'s', () => {
    expect(backoffPolicy({})).toEqual({ initialSeconds: 10, maxSeconds: 300, resetAfterSeconds: 600 });
    expect(backoffPolicy({ PODBOX_TESTING_BACKOFF: '0.5,2,60' })).toEqual({ initialSeconds: 0.5, maxSeconds: 2, resetAfterSeconds: 60 });
    expect(goDuration(10)).toBe('10s');
    expect(goDuration(300)).toBe('5m0s');
  });
});

describe('PodMachine: graceful deletion', () => {
  it('SIGTERM, then SIGKILL when the grace period ends, then teardown', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ containers: [container('a'), container('b')] }), clock, KUBELET_BACKOFF);
    m.actions(); m.started('a', 'x'); m.started('b', 'x');
    m.deleteRequested(30);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'a', signal: 'SIGTERM' }, { type: 'kill', container: 'b', signal: 'SIGTERM' }]);
    m.exited('a', 143);
    expect(m.actions()).toEqual([]);
    expect(m.wakeAt()).toBe(clock.t + 30_000);
    clock.advance(30);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'b', signal: 'SIGKILL' }]);
    m.exited('b', 137);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.eventLog().filter((e) => e.reason === 'Killing').map((e) => e.message)).toEqual(['Stopping container a', 'Stopping container b']);
  });

  it('a container in back-off is not restarted once deletion starts', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod(), clock, KUBELET_BACKOFF);
    m.actions(); m.started('app', 'x'); m.exited('app', 1);
    m.actions(); m.started('app', 'x'); m.exited('app', 1);
    m.deleteRequested(30);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
  });
});
