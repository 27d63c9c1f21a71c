import { describe, it, expect } from 'vitest';
import { LOG_LINES_LOST, PodMachine, logLinesLostOf, qosClass, type Action } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF, backoffPolicy } from '../../src/lifecycle/timing.js';
import { goDuration } from '../../src/kubectl/duration.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';
import { IMAGE } from '../helpers/pods.js';

const starts = (a: Action[]) => a.filter((x) => x.type === 'start').map((x) => (x as { container: string }).container);
const status = (m: PodMachine, name: string) =>
  [...(m.status().initContainerStatuses ?? []), ...m.status().containerStatuses].find((c) => c.name === name)!;

describe('PodMachine: init containers then app containers', () => {
  it('runs init containers one at a time, in order, then all app containers together', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        initContainers: [container('i1'), container('i2')],
        containers: [container('a'), container('b')],
        restartPolicy: 'Never',
      }),
      clock,
      KUBELET_BACKOFF,
    );
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
    expect(status(m, 'a').state).toEqual({
      terminated: {
        exitCode: 0,
        reason: 'Completed',
        startedAt: '2026-01-01T00:00:00Z',
        finishedAt: '2026-01-01T00:00:00Z',
        containerID: 'x',
      },
    });
  });

  it('a failed init container under restartPolicy Never fails the pod; no app container starts', () => {
    const m = new PodMachine(
      pod({ initContainers: [container('init')], containers: [container('app')], restartPolicy: 'Never' }),
      new FakeClock(),
      KUBELET_BACKOFF,
    );
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
    const m = new PodMachine(
      pod({ containers: [container('a'), container('b')], restartPolicy: 'Never' }),
      new FakeClock(),
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('a', 'x');
    m.started('b', 'x');
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
      while (starts(m.actions()).length === 0) {
        clock.advance(1);
        waited++;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 300, 300]);
    expect(status(m, 'app').restartCount).toBe(8);
  });

  it('shows CrashLoopBackOff with the kubelet message and a BackOff event', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ restartPolicy: 'OnFailure' }), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 2);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 2);
    expect(m.actions()).toEqual([]);
    const s = status(m, 'app');
    expect(s.state).toEqual({
      waiting: {
        reason: 'CrashLoopBackOff',
        message: 'back-off 10s restarting failed container=app pod=demo_default(1111-2222)',
      },
    });
    expect(s.restartCount).toBe(1);
    expect('terminated' in s.lastState ? s.lastState.terminated?.exitCode : undefined).toBe(2);
    expect(m.wakeAt()).toBe(clock.t + 10_000);
    expect(m.eventLog().find((e) => e.reason === 'BackOff')?.message).toBe(
      'Back-off restarting failed container app in pod demo_default(1111-2222)',
    );
    expect(m.status().phase).toBe('Running');
  });

  it('OnFailure does not restart a container that succeeded; Never restarts nothing', () => {
    const m = new PodMachine(pod({ restartPolicy: 'OnFailure' }), new FakeClock(), KUBELET_BACKOFF);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 0);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.status().phase).toBe('Succeeded');
  });

  it('resets the back-off after 10 minutes of running', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod(), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 1);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 1);
    clock.advance(10);
    m.actions();
    m.started('app', 'x');
    clock.advance(601);
    m.exited('app', 1);
    expect(starts(m.actions())).toEqual(['app']);
  });

  it("the testing knob shortens the constants, the defaults are the kubelet's", () => {
    expect(backoffPolicy({})).toEqual({ initialSeconds: 10, maxSeconds: 300, resetAfterSeconds: 600 });
    expect(backoffPolicy({ PODBOX_TESTING_BACKOFF: '0.5,2,60' })).toEqual({
      initialSeconds: 0.5,
      maxSeconds: 2,
      resetAfterSeconds: 60,
    });
    expect(goDuration(10)).toBe('10s');
    expect(goDuration(300)).toBe('5m0s');
  });
});

describe('PodMachine: graceful deletion', () => {
  it('SIGTERM, then SIGKILL when the grace period ends, then teardown', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ containers: [container('a'), container('b')] }), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('a', 'x');
    m.started('b', 'x');
    m.deleteRequested(30);
    expect(m.actions()).toEqual([
      { type: 'kill', container: 'a', signal: 'SIGTERM' },
      { type: 'kill', container: 'b', signal: 'SIGTERM' },
    ]);
    m.exited('a', 143);
    expect(m.actions()).toEqual([]);
    expect(m.wakeAt()).toBe(clock.t + 30_000);
    clock.advance(30);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'b', signal: 'SIGKILL' }]);
    m.exited('b', 137);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(
      m
        .eventLog()
        .filter((e) => e.reason === 'Killing')
        .map((e) => e.message),
    ).toEqual(['Stopping container a', 'Stopping container b']);
  });

  it('a container in back-off is not restarted once deletion starts', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod(), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 1);
    m.actions();
    m.started('app', 'x');
    m.exited('app', 1);
    m.deleteRequested(30);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
  });
});

const probe = (extra: Record<string, unknown> = {}) => ({
  exec: { command: ['true'] },
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
  ...extra,
});
const probes = (a: Action[]) =>
  a
    .filter((x) => x.type === 'probe')
    .map((x) => `${(x as { container: string }).container}:${(x as { probe: string }).probe}`);
const ready = (m: PodMachine) => m.status().conditions.find((c) => c.type === 'Ready')!;

describe('PodMachine: probes (https://kubernetes.io/docs/concepts/configure-liveness-readiness-startup-probes/)', () => {
  it('readiness gates ready and the Ready condition; failureThreshold failures make it unready', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        containers: [
          container('web', {
            readinessProbe: probe({ initialDelaySeconds: 5, periodSeconds: 2, failureThreshold: 2 }),
          }),
        ],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('web', 'x');
    expect(probes(m.actions())).toEqual([]); // not before initialDelaySeconds
    expect(m.wakeAt()).toBe(clock.t + 5000);
    expect(status(m, 'web')).toMatchObject({ ready: false, started: true });
    expect(ready(m)).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [web]',
    });
    clock.advance(5);
    expect(probes(m.actions())).toEqual(['web:readiness']);
    expect(probes(m.actions())).toEqual([]); // one at a time
    m.probeResult('web', 0, 'readiness', true);
    expect(status(m, 'web').ready).toBe(true);
    expect(ready(m).status).toBe('True');
    clock.advance(2);
    m.actions();
    m.probeResult('web', 0, 'readiness', false, 'HTTP probe failed with statuscode: 503');
    expect(status(m, 'web').ready).toBe(true);
    clock.advance(2);
    m.actions();
    m.probeResult('web', 0, 'readiness', false, 'HTTP probe failed with statuscode: 503');
    expect(status(m, 'web').ready).toBe(false);
    expect(ready(m).status).toBe('False');
    expect(m.eventLog().find((e) => e.reason === 'Unhealthy')).toMatchObject({
      type: 'Warning',
      message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
      count: 2,
      fieldPath: 'spec.containers{web}',
    });
  });

  it('liveness failures kill the container with its grace period; the restart policy brings it back', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        terminationGracePeriodSeconds: 5,
        containers: [container('app', { livenessProbe: probe({ failureThreshold: 2, periodSeconds: 1 }) })],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('app', 'x');
    expect(probes(m.actions())).toEqual(['app:liveness']);
    m.probeResult('app', 0, 'liveness', false, 'cat: /tmp/healthy: No such file or directory');
    clock.advance(1);
    expect(probes(m.actions())).toEqual(['app:liveness']);
    m.probeResult('app', 0, 'liveness', false, 'cat: /tmp/healthy: No such file or directory');
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    expect(m.eventLog().find((e) => e.reason === 'Killing')?.message).toBe(
      'Container app failed liveness probe, will be restarted',
    );
    clock.advance(5);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGKILL' }]);
    m.exited('app', 137);
    expect(starts(m.actions())).toEqual(['app']); // first restart at once
    expect(status(m, 'app').restartCount).toBe(1);
    expect(status(m, 'app').lastState).toMatchObject({ terminated: { exitCode: 137, reason: 'Error' } });
  });

  it('startup gates liveness and readiness; started only once it succeeds', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        containers: [
          container('app', {
            startupProbe: probe({ periodSeconds: 1, failureThreshold: 30 }),
            livenessProbe: probe(),
            readinessProbe: probe(),
          }),
        ],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('app', 'x');
    expect(probes(m.actions())).toEqual(['app:startup']);
    m.probeResult('app', 0, 'startup', false, 'not yet');
    expect(status(m, 'app')).toMatchObject({ started: false, ready: false });
    clock.advance(1);
    expect(probes(m.actions())).toEqual(['app:startup']);
    m.probeResult('app', 0, 'startup', true);
    expect(status(m, 'app')).toMatchObject({ started: true, ready: false });
    expect(probes(m.actions())).toEqual(['app:liveness', 'app:readiness']);
    m.probeResult('app', 0, 'liveness', true);
    m.probeResult('app', 0, 'readiness', true);
    expect(status(m, 'app').ready).toBe(true);
    clock.advance(10);
    expect(probes(m.actions())).toEqual(['app:liveness', 'app:readiness']); // startup never again
  });

  it('a result for an earlier instance is ignored', () => {
    const m = new PodMachine(
      pod({ containers: [container('app', { readinessProbe: probe() })] }),
      new FakeClock(),
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('app', 'x');
    m.actions();
    m.probeResult('app', 7, 'readiness', true);
    expect(status(m, 'app').ready).toBe(false);
  });
});

describe('PodMachine: hooks (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/)', () => {
  const hooks = { postStart: { exec: { command: ['true'] } }, preStop: { exec: { command: ['true'] } } };

  it('not running until postStart completes; a failed postStart kills it and the policy restarts it', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ containers: [container('app', { lifecycle: hooks })] }), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('app', 'x');
    expect(m.actions()).toEqual([
      { type: 'hook', container: 'app', instance: 0, hook: 'postStart', timeoutSeconds: 30 },
    ]);
    expect(status(m, 'app')).toMatchObject({ started: false, state: { waiting: { reason: 'ContainerCreating' } } });
    m.hookDone('app', 0, 'postStart', true);
    expect(status(m, 'app')).toMatchObject({ started: true, ready: true, state: { running: {} } });

    m.exited('app', 1);
    expect(starts(m.actions())).toEqual(['app']);
    m.started('app', 'y');
    m.actions();
    m.hookDone(
      'app',
      1,
      'postStart',
      false,
      'Exec lifecycle hook ([false]) for Container "app" in Pod "demo_default(1111-2222)" failed - error: command \'false\' exited with 1, message: ""',
    );
    expect(status(m, 'app').state).toMatchObject({ waiting: { reason: 'PostStartHookError' } });
    expect(m.eventLog().find((e) => e.reason === 'FailedPostStartHook')?.type).toBe('Warning');
    // no preStop for a container whose postStart failed
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    m.exited('app', 143);
    expect(m.status().containerStatuses[0]!.state).toMatchObject({ waiting: { reason: 'CrashLoopBackOff' } });
  });

  it('preStop runs before the stop signal, inside the grace period, with a 2 s extension when it overruns', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        terminationGracePeriodSeconds: 10,
        containers: [container('app', { lifecycle: { preStop: hooks.preStop } })],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('app', 'x');
    m.deleteRequested(10);
    expect(m.actions()).toEqual([{ type: 'hook', container: 'app', instance: 0, hook: 'preStop', timeoutSeconds: 10 }]);
    clock.advance(9);
    expect(m.actions()).toEqual([]);
    clock.advance(1); // the hook is still running when the grace period ends
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    expect(m.wakeAt()).toBe(clock.t + 2000);
    clock.advance(2);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGKILL' }]);
    m.exited('app', 137);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
  });

  it('a preStop that returns in time: the stop signal follows at once', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({ containers: [container('app', { lifecycle: { preStop: hooks.preStop } })] }),
      clock,
      KUBELET_BACKOFF,
    );
    m.actions();
    m.started('app', 'x');
    m.deleteRequested(30);
    m.actions();
    clock.advance(1);
    m.hookDone('app', 0, 'preStop', true);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    expect(m.wakeAt()).toBe(clock.t + 29000);
  });
});

describe('PodMachine: native sidecars (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/)', () => {
  it('the next init container starts once the sidecar is started; the pod ends with its app containers; sidecars stop in reverse order', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        restartPolicy: 'Never',
        initContainers: [
          container('proxy', { restartPolicy: 'Always', startupProbe: probe({ periodSeconds: 1 }) }),
          container('log', { restartPolicy: 'Always' }),
          container('setup'),
        ],
        containers: [container('app')],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    expect(starts(m.actions())).toEqual(['proxy']);
    m.started('proxy', 'p');
    expect(starts(m.actions())).toEqual([]); // its startup probe has not passed
    m.probeResult('proxy', 0, 'startup', true);
    expect(starts(m.actions())).toEqual(['log']);
    m.started('log', 'l');
    expect(starts(m.actions())).toEqual(['setup']);
    m.started('setup', 's');
    m.exited('setup', 0);
    expect(starts(m.actions())).toEqual(['app']);
    m.started('app', 'a');
    expect(m.status().phase).toBe('Running');
    expect(ready(m).status).toBe('True');

    // a sidecar that crashes restarts, whatever the pod's restartPolicy
    m.exited('log', 1);
    expect(starts(m.actions())).toEqual(['log']);
    m.started('log', 'l2');

    m.exited('app', 0);
    // kubelet_pods.go generateAPIPodStatus (PR #108366): not terminal while the sidecars still run
    expect(m.status().phase).toBe('Running');
    expect(m.actions()).toEqual([{ type: 'kill', container: 'log', signal: 'SIGTERM' }]);
    m.exited('log', 143);
    expect(m.status().phase).toBe('Running');
    expect(m.actions()).toEqual([{ type: 'kill', container: 'proxy', signal: 'SIGTERM' }]);
    m.exited('proxy', 143);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.status().phase).toBe('Succeeded');
    expect(m.exitCode()).toBe(0);
  });
});

describe('PodMachine: activeDeadlineSeconds', () => {
  it('fails the pod with DeadlineExceeded and stops its containers', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({ activeDeadlineSeconds: 60, terminationGracePeriodSeconds: 3, containers: [container('app')] }),
      clock,
      KUBELET_BACKOFF,
    );
    m.sandboxReady();
    m.actions();
    m.started('app', 'x');
    expect(m.wakeAt()).toBe(clock.t + 60000);
    clock.advance(60);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    // Kill first, publish after (kubernetes PR #108366): still Running, no reason, while app runs.
    expect(m.status().phase).toBe('Running');
    expect(m.status().reason).toBeUndefined();
    clock.advance(1);
    m.exited('app', 143);
    expect(m.status()).toMatchObject({
      phase: 'Failed',
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
    expect(m.status().containerStatuses[0]!.state).toEqual({
      terminated: {
        exitCode: 143,
        reason: 'Error',
        startedAt: '2026-01-01T00:00:00Z',
        finishedAt: '2026-01-01T00:01:01Z',
        containerID: 'x',
      },
    });
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.exitCode()).toBe(143);
  });
});

describe('PodMachine: log lines lost', () => {
  it('one Warning LogLinesLost per container and cause, its count the lines lost; the pod runs on', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ containers: [container('a'), container('b')] }), clock, KUBELET_BACKOFF);
    m.actions();
    m.started('a', 'x');
    m.started('b', 'x');
    m.logLinesLost('a', 1, 'ENOSPC: no space left on device, write');
    clock.advance(1);
    m.logLinesLost('a', 487, 'ENOSPC: no space left on device, write');
    m.logLinesLost('a', 0, 'EIO: i/o error, write');
    m.logLinesLost('b', 2, 'EIO: i/o error, write');
    const lost = m.eventLog().filter((e) => e.reason === LOG_LINES_LOST);
    expect(lost).toEqual([
      {
        type: 'Warning',
        reason: 'LogLinesLost',
        fieldPath: 'spec.containers{a}',
        count: 488,
        message:
          'Failed to write the log of container a, its lines were dropped: ' + 'ENOSPC: no space left on device, write',
        firstTimestamp: '2026-01-01T00:00:00Z',
        lastTimestamp: '2026-01-01T00:00:01Z',
      },
      {
        type: 'Warning',
        reason: 'LogLinesLost',
        fieldPath: 'spec.containers{b}',
        count: 2,
        message: 'Failed to write the log of container b, its lines were dropped: EIO: i/o error, write',
        firstTimestamp: '2026-01-01T00:00:01Z',
        lastTimestamp: '2026-01-01T00:00:01Z',
      },
    ]);
    expect(logLinesLostOf(m.eventLog(), false, 'a')).toBe(488);
    expect(logLinesLostOf(m.eventLog(), true, 'a')).toBe(0);
    expect(m.status().phase).toBe('Running');
    expect(m.actions()).toEqual([]);
  });
});

describe('PodMachine: the terminal-phase guard (kubelet_pods.go generateAPIPodStatus, kubernetes PR #108366)', () => {
  it('restartPolicy Never, a failed app container and a running sidecar: Running until the sidecar stopped', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        restartPolicy: 'Never',
        initContainers: [container('side', { restartPolicy: 'Always' })],
        containers: [container('app')],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.sandboxReady();
    expect(starts(m.actions())).toEqual(['side']);
    m.started('side', 's');
    expect(starts(m.actions())).toEqual(['app']);
    m.started('app', 'a');
    m.exited('app', 1);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'side', signal: 'SIGTERM' }]);
    expect(m.status().phase).toBe('Running');
    m.exited('side', 143);
    expect(m.status().phase).toBe('Failed');
    expect(ready(m)).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });
});

describe('PodMachine: a completed init container is ready (prober_manager.go UpdatePodStatus)', () => {
  it('an init container that exited 0 is ready, also between sidecars; one that failed is not', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        restartPolicy: 'OnFailure',
        initContainers: [
          container('side1', { restartPolicy: 'Always' }),
          container('setup'),
          container('side2', { restartPolicy: 'Always' }),
        ],
        containers: [container('app')],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.sandboxReady();
    expect(starts(m.actions())).toEqual(['side1']);
    m.started('side1', 's1');
    expect(starts(m.actions())).toEqual(['setup']);
    m.started('setup', 'x');
    m.exited('setup', 1);
    expect(status(m, 'setup').ready).toBe(false);
    expect(starts(m.actions())).toEqual(['setup']);
    m.started('setup', 'x2');
    expect(status(m, 'setup').ready).toBe(false);
    m.exited('setup', 0);
    expect(status(m, 'setup').ready).toBe(true);
    expect(starts(m.actions())).toEqual(['side2']);
    m.started('side2', 's2');
    expect(starts(m.actions())).toEqual(['app']);
    m.started('app', 'a');
    expect(m.status().initContainerStatuses!.map((c) => [c.name, c.ready])).toEqual([
      ['side1', true],
      ['setup', true],
      ['side2', true],
    ]);
  });
});

describe('PodMachine: a container that cannot be made (kuberuntime_container.go startContainer)', () => {
  const message =
    'container has runAsNonRoot and image will run as root (pod: "demo_default(1111-2222)", container: app)';

  it('waits with CreateContainerConfigError, the pod stays Pending, and it is retried after the back-off', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ restartPolicy: 'Never' }), clock, KUBELET_BACKOFF);
    m.sandboxReady();
    expect(starts(m.actions())).toEqual(['app']);
    m.configFailed('app', 'CreateContainerConfigError', message);
    expect(status(m, 'app')).toMatchObject({
      restartCount: 0,
      ready: false,
      started: false,
      state: { waiting: { reason: 'CreateContainerConfigError', message } },
      lastState: {},
    });
    expect(m.status().phase).toBe('Pending');
    expect(m.isFinished()).toBe(false);
    expect(m.eventLog().map((e) => [e.type, e.reason, e.message])).toEqual([
      ['Normal', 'Scheduled', 'Successfully assigned default/demo to podbox'],
      ['Normal', 'Pulled', `Container image "${IMAGE}" already present on machine`],
      ['Warning', 'Failed', `Error: ${message}`],
    ]);
    expect(starts(m.actions())).toEqual([]);
    expect(m.wakeAt()).toBe(clock.t + 10_000);
    clock.advance(10);
    const again = m.actions();
    expect(again).toEqual([{ type: 'start', container: 'app', instance: 0, kind: 'app', image: IMAGE }]);
    m.configFailed('app', 'CreateContainerConfigError', message);
    expect(m.eventLog().find((e) => e.reason === 'Failed')?.count).toBe(2);
    expect(m.status().phase).toBe('Pending');
  });

  it('the other containers run: the pod is Running; deleting it ends the retries', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ containers: [container('app'), container('web')] }), clock, KUBELET_BACKOFF);
    m.sandboxReady();
    expect(starts(m.actions())).toEqual(['app', 'web']);
    m.configFailed('app', 'CreateContainerError', 'user "nobody2" is not in the image\'s /etc/passwd');
    m.started('web', 'w');
    expect(m.status().phase).toBe('Running');
    expect(status(m, 'app').state).toEqual({
      waiting: { reason: 'CreateContainerError', message: 'user "nobody2" is not in the image\'s /etc/passwd' },
    });
    m.deleteRequested(30);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'web', signal: 'SIGTERM' }]);
    m.exited('web', 143);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
  });
});

describe('PodMachine: termination messages (status_manager.go normalizeStatus)', () => {
  it("keeps a message whole, and cuts each to 12 KiB shared by the pod's containers", () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({ restartPolicy: 'Never', containers: [container('a'), container('b'), container('c')] }),
      clock,
      KUBELET_BACKOFF,
    );
    m.sandboxReady();
    m.actions();
    for (const n of ['a', 'b', 'c']) m.started(n, n);
    m.exited('a', 1, undefined, undefined, 'short');
    m.exited('b', 1, undefined, undefined, 'x'.repeat(4096));
    const t = (n: string) => (status(m, n).state as { terminated: { message?: string } }).terminated.message;
    expect(t('a')).toBe('short');
    expect(t('b')).toBe('x'.repeat(4096));
    const m4 = new PodMachine(
      pod({
        restartPolicy: 'Never',
        initContainers: [container('i')],
        containers: [container('a'), container('b'), container('c')],
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m4.actions();
    m4.started('i', 'i');
    m4.exited('i', 1, undefined, undefined, 'y'.repeat(4096));
    expect((status(m4, 'i').state as { terminated: { message?: string } }).terminated.message).toBe('y'.repeat(3072));
  });
});

describe('qosClass (pkg/apis/core/v1/helper/qos GetPodQOS)', () => {
  const r = (requests?: Record<string, string>, limits?: Record<string, string>) => ({
    resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  });
  it('compares quantities, not strings; a limit stands in for a missing request', () => {
    expect(
      qosClass(
        pod({ containers: [container('a', r({ cpu: '1', memory: '64Mi' }, { cpu: '1000m', memory: '67108864' }))] }),
      ),
    ).toBe('Guaranteed');
    expect(qosClass(pod({ containers: [container('a', r(undefined, { cpu: '500m', memory: '1Gi' }))] }))).toBe(
      'Guaranteed',
    );
  });
  it('only cpu and memory count, and zero is nothing', () => {
    expect(qosClass(pod({ containers: [container('a', r({ 'ephemeral-storage': '1Gi' }))] }))).toBe('BestEffort');
    expect(qosClass(pod({ containers: [container('a', r({ cpu: '0' }))] }))).toBe('BestEffort');
  });
  it('an init container without limits makes the pod Burstable', () => {
    expect(
      qosClass(
        pod({
          initContainers: [container('i')],
          containers: [container('a', r(undefined, { cpu: '1', memory: '1Gi' }))],
        }),
      ),
    ).toBe('Burstable');
    expect(qosClass(pod({ containers: [container('a', r({ cpu: '100m' }, { cpu: '1', memory: '1Gi' }))] }))).toBe(
      'Burstable',
    );
  });
});

describe('status fields a client reads', () => {
  it('hostIPs next to hostIP', () => {
    const m = new PodMachine(pod(), new FakeClock(), KUBELET_BACKOFF, '10.0.0.5');
    expect(m.status()).toMatchObject({ hostIP: '10.0.0.5', hostIPs: [{ ip: '10.0.0.5' }] });
  });
  it('observedGeneration 1 on the status and each condition (Kubernetes 1.34)', () => {
    const s = new PodMachine(pod(), new FakeClock(), KUBELET_BACKOFF).status();
    expect(s.observedGeneration).toBe(1);
    expect(s.conditions.map((c) => [c.type, c.observedGeneration])).toEqual([
      ['PodScheduled', 1],
      ['Initialized', 1],
      ['ContainersReady', 1],
      ['Ready', 1],
    ]);
  });
});
