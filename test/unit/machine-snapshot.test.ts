import { describe, it, expect } from 'vitest';
import { PodMachine } from '../../src/lifecycle/pod-machine.js';
import type { MachineSnapshot } from '../../src/lifecycle/machine-snapshot.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { PodboxError } from '../../src/errors.js';
import type { Pod } from '../../src/api/types.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';
import { IMAGE } from '../helpers/pods.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;
const iso = (seconds: number) => new Date(at(seconds)).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** What a crashed supervisor left on disk, read back by the next one. */
const throughFile = (m: PodMachine): MachineSnapshot => JSON.parse(JSON.stringify(m.snapshot())) as MachineSnapshot;

/** Restores with a fresh clock at the same time, and checks nothing visible changed. */
function adopt(p: Pod, old: PodMachine, clock: FakeClock): PodMachine {
  const m = PodMachine.restore(p, new FakeClock(clock.t), KUBELET_BACKOFF, throughFile(old));
  expect(m.status()).toEqual(old.status());
  expect(m.eventLog()).toEqual(old.eventLog());
  return m;
}

const probe = (extra: Record<string, unknown> = {}) => ({
  exec: { command: ['true'] },
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
  ...extra,
});
const app = (m: PodMachine) => m.status().containerStatuses[0]!;

describe('PodMachine snapshot and restore: a new supervisor adopts the pod', () => {
  it('mid crash loop: the restart comes at the same deadline and the next back-off doubles', () => {
    const p = pod({ containers: [container('app')], restartPolicy: 'Always' });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.sandboxReady();
    // exits at 0 s (restart at once), 0 s (10 s), 10 s (20 s), 30 s: back-off 40 s, restartCount 3
    for (const wait of [0, 0, 10, 20]) {
      clock.advance(wait);
      expect(old.actions().map((a) => a.type)).toEqual(['start']);
      old.started('app', `runc://app.${app(old).restartCount}`);
      old.exited('app', 1);
    }
    expect(app(old).restartCount).toBe(3);
    expect(old.wakeAt()).toBe(at(70));

    const c2 = new FakeClock(clock.t);
    const m = PodMachine.restore(p, c2, KUBELET_BACKOFF, throughFile(old));
    expect(m.status()).toEqual(old.status());
    expect(m.eventLog()).toEqual(old.eventLog());
    expect(m.wakeAt()).toBe(at(70));
    expect(app(m).state).toEqual({
      waiting: {
        reason: 'CrashLoopBackOff',
        message: 'back-off 40s restarting failed container=app pod=demo_default(1111-2222)',
      },
    });
    c2.advance(39);
    expect(m.actions()).toEqual([]);
    c2.advance(1);
    expect(m.actions()).toEqual([{ type: 'start', container: 'app', instance: 4, kind: 'app', image: IMAGE }]);
    m.started('app', 'runc://app.4');
    expect(app(m).restartCount).toBe(4);
    c2.advance(5);
    m.exited('app', 1);
    expect(m.wakeAt()).toBe(at(75 + 80));
    expect(app(m).state).toEqual({
      waiting: {
        reason: 'CrashLoopBackOff',
        message: 'back-off 1m20s restarting failed container=app pod=demo_default(1111-2222)',
      },
    });
    expect(m.eventLog().find((e) => e.reason === 'BackOff')).toMatchObject({ count: 4, lastTimestamp: iso(75) });
  });

  it('an exit seen after the restore dates the termination and the back-off from when it happened', () => {
    const p = pod({ containers: [container('app')], restartPolicy: 'Always' });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.actions();
    old.started('app', 'runc://app.0');
    old.exited('app', 1); // restart at once, next back-off 10 s
    old.actions();
    old.started('app', 'runc://app.1');
    clock.advance(60);
    const m = adopt(p, old, clock);
    expect(m.containersToAdopt()).toEqual([{ name: 'app', instance: 1, phase: 'running', created: true }]);

    // No supervisor ran from 60 s to 300 s; pause recorded the exit at 100 s.
    const c2 = new FakeClock(at(300));
    const late = PodMachine.restore(p, c2, KUBELET_BACKOFF, throughFile(m));
    late.exited('app', 2, undefined, undefined, undefined, at(100));
    expect(app(late).lastState).toEqual({
      terminated: {
        exitCode: 2,
        reason: 'Error',
        startedAt: iso(0),
        finishedAt: iso(100),
        containerID: 'runc://app.1',
      },
    });
    expect(late.wakeAt()).toBe(at(110));
    expect(late.actions()).toEqual([{ type: 'start', container: 'app', instance: 2, kind: 'app', image: IMAGE }]);
  });

  it('a liveness probe keeps its failure count and schedule; one in flight is due again at once', () => {
    const p = pod({ containers: [container('app', { livenessProbe: probe() })] });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.actions();
    old.started('app', 'runc://app.0');
    for (let i = 0; i < 2; i++) {
      expect(old.actions()).toEqual([{ type: 'probe', container: 'app', instance: 0, probe: 'liveness' }]);
      old.probeResult('app', 0, 'liveness', false, 'exit 1');
      clock.advance(10);
    }
    expect(old.wakeAt()).toBe(at(20));

    // Two failures of three, the third probe not run yet.
    const m = adopt(p, old, clock);
    expect(m.wakeAt()).toBe(at(20));
    expect(m.actions()).toEqual([{ type: 'probe', container: 'app', instance: 0, probe: 'liveness' }]);
    m.probeResult('app', 0, 'liveness', false, 'exit 1');
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    expect(m.eventLog().find((e) => e.reason === 'Unhealthy')).toMatchObject({
      message: 'Liveness probe failed: exit 1',
      count: 3,
    });

    // The third probe in flight when the supervisor died: its result never comes, it runs again.
    expect(old.actions()).toEqual([{ type: 'probe', container: 'app', instance: 0, probe: 'liveness' }]);
    expect(old.wakeAt()).toBeUndefined();
    clock.advance(4);
    const again = adopt(p, old, clock);
    expect(again.wakeAt()).toBe(at(20));
    expect(again.actions()).toEqual([{ type: 'probe', container: 'app', instance: 0, probe: 'liveness' }]);
    again.probeResult('app', 0, 'liveness', true);
    expect(again.wakeAt()).toBe(at(34));
  });

  it('during deletion with preStop running: the stop signal next, SIGKILL at the original deadline', () => {
    const p = pod({ containers: [container('app', { lifecycle: { preStop: { exec: { command: ['true'] } } } })] });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.actions();
    old.started('app', 'runc://app.0');
    clock.advance(10);
    old.deleteRequested(30);
    expect(old.actions()).toEqual([
      { type: 'hook', container: 'app', instance: 0, hook: 'preStop', timeoutSeconds: 30 },
    ]);
    // The supervisor dies while the hook runs; the next one restores 1 s before the deadline.
    clock.advance(29);

    const c2 = new FakeClock(clock.t);
    const m = PodMachine.restore(p, c2, KUBELET_BACKOFF, throughFile(old));
    expect(m.status()).toEqual(old.status());
    expect(m.eventLog()).toEqual(old.eventLog());
    expect(m.isDeleting()).toBe(true);
    expect(m.containersToAdopt()).toEqual([{ name: 'app', instance: 0, phase: 'stopping', created: true }]);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    expect(m.wakeAt()).toBe(at(40));
    expect(m.actions()).toEqual([]);
    c2.advance(1);
    expect(m.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGKILL' }]);
    m.exited('app', 137, 9);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);

    // A signal given out is given again, and so is a teardown: the old supervisor may not have done them.
    old.hookDone('app', 0, 'preStop', true);
    expect(old.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    const resent = adopt(p, old, clock);
    expect(resent.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGTERM' }]);
    old.exited('app', 0);
    expect(old.actions()).toEqual([{ type: 'teardown' }]);
    expect(adopt(p, old, clock).actions()).toEqual([{ type: 'teardown' }]);
  });

  it('a SIGKILL given out is given again, but no signal once the sandbox died', () => {
    const p = pod({ containers: [container('app')] });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.actions();
    old.started('app', 'runc://app.0');
    old.deleteRequested(0);
    expect(old.actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGKILL' }]);
    expect(adopt(p, old, clock).actions()).toEqual([{ type: 'kill', container: 'app', signal: 'SIGKILL' }]);

    old.sandboxDied('pause exited');
    const m = adopt(p, old, clock);
    expect(m.actions()).toEqual([]);
    m.exited('app', 137, 9);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
  });

  it("a container 'starting': runc's answer goes to started, startFailed or startLost", () => {
    const p = pod({ containers: [container('app'), container('side')], restartPolicy: 'Always' });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.sandboxReady();
    expect(old.actions().map((a) => a.type)).toEqual(['start', 'start']);
    clock.advance(3);
    const snap = throughFile(old);
    const restore = () => PodMachine.restore(p, new FakeClock(clock.t), KUBELET_BACKOFF, snap);
    const m = restore();
    expect(m.status()).toEqual(old.status());
    expect(m.containersToAdopt()).toEqual([
      { name: 'app', instance: 0, phase: 'starting', created: false },
      { name: 'side', instance: 0, phase: 'starting', created: false },
    ]);

    // runc runs app.0 since 1 s; it has no side.0: side is started again as instance 0.
    m.started('app', 'runc://app.0', at(1));
    m.startLost('side');
    expect(app(m).state).toEqual({ running: { startedAt: iso(1) } });
    expect(m.actions()).toEqual([{ type: 'start', container: 'side', instance: 0, kind: 'app', image: IMAGE }]);
    m.started('side', 'runc://side.0');
    expect(m.status().containerStatuses.map((c) => [c.name, c.restartCount, c.ready])).toEqual([
      ['app', 0, true],
      ['side', 0, true],
    ]);
    expect(m.status().phase).toBe('Running');

    // runc failed to start app.0: a StartError, restarted as the policy says.
    const failed = restore();
    failed.startFailed('app', 'runc run failed: exec: "x": not found');
    expect(app(failed).lastState).toEqual({
      terminated: {
        exitCode: 128,
        reason: 'StartError',
        message: 'runc run failed: exec: "x": not found',
        startedAt: iso(3),
        finishedAt: iso(3),
      },
    });
    expect(failed.actions()).toEqual([{ type: 'start', container: 'app', instance: 1, kind: 'app', image: IMAGE }]);
  });

  it('a postStart hook running is not run again: the container counts as running', () => {
    const p = pod({ containers: [container('app', { lifecycle: { postStart: { exec: { command: ['true'] } } } })] });
    const clock = new FakeClock();
    const old = new PodMachine(p, clock, KUBELET_BACKOFF);
    old.actions();
    old.started('app', 'runc://app.0');
    expect(old.actions()).toEqual([
      { type: 'hook', container: 'app', instance: 0, hook: 'postStart', timeoutSeconds: 30 },
    ]);
    expect(app(old).state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    clock.advance(2);
    const m = PodMachine.restore(p, new FakeClock(clock.t), KUBELET_BACKOFF, throughFile(old));
    expect(m.actions()).toEqual([]);
    expect(app(m)).toMatchObject({ state: { running: { startedAt: iso(0) } }, started: true, ready: true });
    expect(m.status().phase).toBe('Running');
    expect(m.eventLog()).toEqual(old.eventLog());
  });

  it('refuses a snapshot of another pod, of other containers or of another version', () => {
    const p = pod({ containers: [container('app')] });
    const snap = throughFile(new PodMachine(p, new FakeClock(), KUBELET_BACKOFF));
    const refused = (q: Pod, s: MachineSnapshot) => {
      try {
        PodMachine.restore(q, new FakeClock(), KUBELET_BACKOFF, s);
      } catch (e) {
        expect(e).toBeInstanceOf(PodboxError);
        return [(e as PodboxError).code, (e as PodboxError).message];
      }
      return 'restored';
    };
    expect(refused(pod({ containers: [container('app')] }, 'other'), snap)).toEqual([
      'InvalidArgument',
      'the saved state of pod "default/other" is of pod "default/demo" (uid 1111-2222)',
    ]);
    expect(refused(pod({ containers: [container('web')] }), snap)).toEqual([
      'InvalidArgument',
      'the saved state of pod "default/demo" has containers [app app], the pod has [app web]',
    ]);
    expect(
      refused(
        pod({ initContainers: [container('app', { restartPolicy: 'Always' })], containers: [container('x')] }),
        snap,
      ),
    ).toEqual([
      'InvalidArgument',
      'the saved state of pod "default/demo" has containers [app app], the pod has [sidecar app, app x]',
    ]);
    expect(refused(p, { ...snap, version: 2 } as unknown as MachineSnapshot)).toEqual([
      'InvalidArgument',
      'the saved state of pod "default/demo" has version 2, this podbox reads version 1',
    ]);
    expect(refused(p, snap)).toBe('restored');
  });

  it('the snapshot is plain data, a copy: the machine going on does not change it', () => {
    const p = pod({ containers: [container('app')] });
    const m = new PodMachine(p, new FakeClock(), KUBELET_BACKOFF);
    m.actions();
    const snap = m.snapshot();
    m.started('app', 'runc://app.0');
    expect(snap).toEqual(JSON.parse(JSON.stringify(snap)));
    expect(snap.version).toBe(1);
    expect(snap.containers.map((c) => [c.name, c.kind, c.phase, c.instances])).toEqual([['app', 'app', 'starting', 1]]);
    expect('spec' in snap.containers[0]!).toBe(false);
  });
});
