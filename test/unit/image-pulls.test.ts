import { describe, it, expect } from 'vitest';
import { PodMachine, type Action } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { goDurationMs } from '../../src/kubectl/duration.js';
import type { LocalImage } from '../../src/lifecycle/image-pulls.js';
import type { MachineSnapshot } from '../../src/lifecycle/machine-snapshot.js';
import type { Container } from '../../src/api/types.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';

const REF = 'localhost:1/nothing:1';
const LOCAL: LocalImage = { id: 'sha256:' + 'b'.repeat(64), imageID: `localhost:1/nothing@sha256:${'c'.repeat(64)}` };

/** A store holding the images in `present` (mutable: an image loaded meanwhile). */
function store(present = new Set<string>()) {
  return { present, lookup: (ref: string) => (present.has(ref) ? LOCAL : undefined) };
}

const kinds = (a: Action[]) =>
  a.map((x) => (x.type === 'pull' ? `pull ${x.image}` : x.type === 'start' ? `start ${x.container}` : x.type));
const events = (m: PodMachine) => m.eventLog().map((e) => [e.type, e.reason, e.message, e.count]);
const waiting = (m: PodMachine, name = 'app') => {
  const c = [...(m.status().initContainerStatuses ?? []), ...m.status().containerStatuses].find(
    (x) => x.name === name,
  )!;
  return 'waiting' in c.state ? c.state.waiting : undefined;
};
const app = (extra: Partial<Container>) => container('app', { image: REF, ...extra });

function machine(containers: Container[], s = store(), clock = new FakeClock()) {
  const m = new PodMachine(pod({ containers }), clock, KUBELET_BACKOFF, undefined, undefined, s.lookup);
  m.sandboxReady();
  return { m, clock, s };
}

describe('image pulls: EnsureImageExists (pkg/kubelet/images/image_manager.go)', () => {
  it('Never and absent: ErrImageNeverPull, looked at again every 10 s; an image loaded meanwhile starts', () => {
    const { m, clock, s } = machine([app({ imagePullPolicy: 'Never' })]);
    expect(m.actions()).toEqual([]);
    const message = `Container image "${REF}" is not present with pull policy of Never`;
    expect(waiting(m)).toEqual({ reason: 'ErrImageNeverPull', message });
    expect(m.status().phase).toBe('Pending');
    expect(events(m).slice(1)).toEqual([
      ['Warning', 'ErrImageNeverPull', message, 1],
      ['Warning', 'Failed', 'Error: ErrImageNeverPull', 1],
    ]);
    expect(m.wakeAt()).toBe(clock.t + 10_000);
    clock.advance(10);
    expect(m.actions()).toEqual([]);
    expect(
      events(m)
        .slice(1)
        .map((e) => e[3]),
    ).toEqual([2, 2]);
    s.present.add(REF);
    clock.advance(10);
    expect(kinds(m.actions())).toEqual(['start app']);
    expect(events(m).at(-1)).toEqual(['Normal', 'Pulled', `Container image "${REF}" already present on machine`, 1]);
    expect(m.status().containerStatuses[0]!.imageID).toBe(LOCAL.imageID);
  });

  it('IfNotPresent and present: no pull; Always: pulled even when present', () => {
    const present = machine([app({ imagePullPolicy: 'IfNotPresent' })], store(new Set([REF])));
    expect(kinds(present.m.actions())).toEqual(['start app']);
    const always = machine([app({ imagePullPolicy: 'Always' })], store(new Set([REF])));
    expect(kinds(always.m.actions())).toEqual([`pull ${REF}`]);
    expect(events(always.m).at(-1)).toEqual(['Normal', 'Pulling', `Pulling image "${REF}"`, 1]);
  });

  it('a pull that succeeds: Pulled with both durations and the size, then the start', () => {
    const { m, clock } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
    expect(waiting(m)).toEqual({ reason: 'ContainerCreating' });
    clock.t += 2500;
    m.pullDone(REF, LOCAL, 1234, 4269694);
    expect(events(m).at(-1)).toEqual([
      'Normal',
      'Pulled',
      `Successfully pulled image "${REF}" in 1.234s (2.5s including waiting). Image size: 4269694 bytes.`,
      1,
    ]);
    expect(m.actions()).toEqual([{ type: 'start', container: 'app', instance: 0, kind: 'app', image: LOCAL.id }]);
  });

  it('failures: ErrImagePull, then ImagePullBackOff; pulls again after 10 s, 20 s, 40 s ... up to 300 s', () => {
    const { m, clock } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    const t0 = clock.t;
    const pullsAt: number[] = [];
    let backOffStates = 0;
    // 30 minutes of a registry that never answers, stepping from wake-up to wake-up.
    while (clock.t - t0 < 1800_000) {
      const actions = m.actions();
      if (actions.some((a) => a.type === 'pull')) {
        pullsAt.push((clock.t - t0) / 1000);
        m.pullFailed(REF, 'connection refused');
        expect(waiting(m)).toEqual({ reason: 'ErrImagePull', message: 'connection refused' });
      } else if (waiting(m)?.reason === 'ImagePullBackOff') {
        backOffStates++;
        expect(waiting(m)).toEqual({ reason: 'ImagePullBackOff', message: `Back-off pulling image "${REF}"` });
      }
      expect(m.status().phase).toBe('Pending');
      clock.t = m.wakeAt()!;
    }
    expect(pullsAt).toEqual([0, 10, 30, 70, 150, 310, 610, 910, 1210, 1510]);
    const count = (reason: string, message: string) =>
      m.eventLog().find((e) => e.reason === reason && e.message === message)?.count;
    expect(count('Pulling', `Pulling image "${REF}"`)).toBe(10);
    expect(count('Failed', `Failed to pull image "${REF}": connection refused`)).toBe(10);
    expect(count('Failed', 'Error: ErrImagePull')).toBe(10);
    // A sync 1 s after each failure, then every 10 s until the back-off ends:
    // 10 s: 1; 20 s: 2; 40 s: 4; 80 s: 8; 160 s: 16; 300 s: 30 (x4); then 29 until the 30 minutes end.
    const backOffs = 1 + 2 + 4 + 8 + 16 + 30 * 4 + 29;
    expect(count('BackOff', `Back-off pulling image "${REF}"`)).toBe(backOffs);
    expect(count('Failed', 'Error: ImagePullBackOff')).toBe(backOffs);
    expect(backOffStates).toBe(backOffs);
    const reasons = m.eventLog().map((e) => `${e.type} ${e.reason} ${e.message}`);
    expect(reasons).toEqual([
      'Normal Scheduled Successfully assigned default/demo to podbox',
      `Normal Pulling Pulling image "${REF}"`,
      `Warning Failed Failed to pull image "${REF}": connection refused`,
      'Warning Failed Error: ErrImagePull',
      `Normal BackOff Back-off pulling image "${REF}"`,
      'Warning Failed Error: ImagePullBackOff',
    ]);
  });

  it('a pull that fails, then succeeds after the back-off: the container starts', () => {
    const { m, clock } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
    m.pullFailed(REF, 'manifest unknown');
    clock.advance(1);
    expect(m.actions()).toEqual([]);
    expect(waiting(m)?.reason).toBe('ImagePullBackOff');
    clock.advance(9);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
    m.pullDone(REF, LOCAL, 10, 20);
    expect(kinds(m.actions())).toEqual(['start app']);
    m.started('app', 'x');
    expect(m.status().phase).toBe('Running');
  });

  it('two containers of the same image share one pull', () => {
    const { m } = machine([
      container('a', { image: REF, imagePullPolicy: 'Always' }),
      container('b', { image: REF, imagePullPolicy: 'Always' }),
    ]);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
    expect(
      m
        .eventLog()
        .filter((e) => e.reason === 'Pulling')
        .map((e) => e.fieldPath),
    ).toEqual(['spec.containers{a}', 'spec.containers{b}']);
    m.pullDone(REF, LOCAL, 5, 6);
    expect(kinds(m.actions())).toEqual(['start a', 'start b']);
  });

  it('init containers: each image is ensured at its turn', () => {
    const s = store(new Set(['localhost/busybox:test']));
    const m = new PodMachine(
      pod({ initContainers: [container('init')], containers: [app({ imagePullPolicy: 'IfNotPresent' })] }),
      new FakeClock(),
      KUBELET_BACKOFF,
      undefined,
      undefined,
      s.lookup,
    );
    expect(kinds(m.actions())).toEqual(['start init']);
    m.started('init', 'x');
    expect(m.actions()).toEqual([]);
    m.exited('init', 0);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
  });

  it('deleted while backing off or pulling: nothing waits, the pod is torn down; a late result is ignored', () => {
    const { m } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    m.actions();
    m.deleteRequested(30);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    m.pullDone(REF, LOCAL, 1, 1);
    expect(m.actions()).toEqual([]);
  });

  it('imagePullSecrets not given: a warning with each pull', () => {
    const { m } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    m.pullSecretsMissing(['regcred', 'other']);
    m.actions();
    expect(m.eventLog().find((e) => e.reason === 'FailedToRetrieveImagePullSecret')?.message).toBe(
      'Unable to retrieve some image pull secrets (regcred, other); attempting to pull the image may not succeed.',
    );
  });

  it('a successor supervisor pulls again an image whose pull was under way; the back-off is kept', () => {
    const { m, clock, s } = machine([app({ imagePullPolicy: 'IfNotPresent' })]);
    m.actions();
    m.pullFailed(REF, 'refused');
    clock.advance(10);
    expect(kinds(m.actions())).toEqual([`pull ${REF}`]);
    const snap = JSON.parse(JSON.stringify(m.snapshot())) as MachineSnapshot;
    const next = PodMachine.restore(m.pod, clock, KUBELET_BACKOFF, snap, s.lookup);
    expect(kinds(next.actions())).toEqual([`pull ${REF}`]);
    next.pullFailed(REF, 'refused');
    clock.advance(19);
    expect(next.actions()).toEqual([]);
    clock.advance(1);
    expect(kinds(next.actions())).toEqual([`pull ${REF}`]);
  });
});

describe('goDurationMs (time.Duration.String after Truncate(time.Millisecond))', () => {
  it('prints as Go does', () => {
    expect([0, 7, 313, 1000, 1234, 1500, 60_000, 123_004, 3_600_000].map(goDurationMs)).toEqual([
      '0s',
      '7ms',
      '313ms',
      '1s',
      '1.234s',
      '1.5s',
      '1m0s',
      '2m3.004s',
      '1h0m0s',
    ]);
  });
});
