import { describe, expect, it } from 'vitest';
import { decodeDeployment, decodeReplicaSet } from '../../src/workload/apps-schema.js';
import { DeploymentController, POD_TEMPLATE_HASH, resolveFenceposts } from '../../src/workload/deployment.js';
import { ReplicaSetController } from '../../src/workload/replica-set.js';
import { computeHash, derivedUid } from '../../src/workload/naming.js';
import type { Pod } from '../../src/api/types.js';
import { PodWorld, appsObject, counting } from '../helpers/workloads.js';

const rs = (replicas: number) => decodeReplicaSet(appsObject('ReplicaSet', 'front', { replicas }), 'rs.yaml');

describe('ReplicaSet (pkg/controller/replicaset/replica_set.go)', () => {
  it('creates replicas pods named NAME-RAND5, owned by the ReplicaSet', () => {
    const c = new ReplicaSetController(rs(3), { random: counting() });
    const r = c.reconcile([], Date.parse('2026-01-01T00:00:00Z'));
    const pods = r.actions.map((a) => ('create' in a ? a.create : undefined)) as Pod[];
    expect(pods.map((p) => p.metadata.name)).toEqual(['front-bcdfg', 'front-hjklm', 'front-npqrs']);
    expect(pods[0]!.metadata.labels).toEqual({ app: 'front' });
    expect(pods[0]!.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'front',
        uid: 'uid-front',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pods[0]!.spec.containers[0]!.imagePullPolicy).toBe('IfNotPresent');
    expect(pods[0]!.spec.restartPolicy).toBe('Always');
    expect(r.events).toEqual(
      ['front-bcdfg', 'front-hjklm', 'front-npqrs'].map((n) => ({
        type: 'Normal',
        reason: 'SuccessfulCreate',
        message: `Created pod: ${n}`,
      })),
    );
    expect(r.status).toEqual({ replicas: 0, observedGeneration: 1 });
  });

  it('3 replicas with one pod failed: the failed pod is deleted and replaced', () => {
    const w = new PodWorld(new ReplicaSetController(rs(3), { random: counting() }));
    w.sync();
    w.allReady();
    expect(w.sync().status).toEqual({
      replicas: 3,
      fullyLabeledReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      observedGeneration: 1,
    });
    w.drain();
    w.set('front-hjklm', 'Failed', false);
    const r = w.sync();
    expect(r.actions).toEqual([
      { delete: 'front-hjklm', reason: 'Deleted pod: front-hjklm (Failed; replaced)' },
      { create: expect.objectContaining({ metadata: expect.objectContaining({ name: 'front-tvwxz' }) }) },
    ]);
    expect(r.status).toMatchObject({ replicas: 2, readyReplicas: 2 });
    expect(w.names()).toEqual(['front-bcdfg', 'front-npqrs', 'front-tvwxz']);
    expect(w.sync().actions).toEqual([]);
  });

  it('scales down the least useful pods first: Pending, then not ready, then newest', () => {
    const w = new PodWorld(new ReplicaSetController(rs(4), { random: counting() }));
    w.sync();
    w.set('front-bcdfg', 'Running', true);
    w.set('front-hjklm', 'Running', false);
    w.set('front-npqrs', 'Running', true);
    w.drain();
    const c2 = new ReplicaSetController(rs(1), { random: counting() });
    const r = c2.reconcile([...w.pods.values()], w.now);
    // Two ready pods made at the same time tie; the name decides then.
    expect(r.actions.map((a) => ('delete' in a ? a.delete : '?'))).toEqual([
      'front-tvwxz',
      'front-hjklm',
      'front-bcdfg',
    ]);
  });

  it('minReadySeconds: available only after being ready that long, with a wake-up then', () => {
    const o = decodeReplicaSet(appsObject('ReplicaSet', 'front', { replicas: 1, minReadySeconds: 10 }), 'f');
    const w = new PodWorld(new ReplicaSetController(o, { random: counting() }));
    w.sync();
    w.allReady();
    const r = w.sync();
    expect(r.status).toMatchObject({ readyReplicas: 1 });
    expect(r.status.availableReplicas).toBeUndefined();
    expect(r.wakeAt).toBe(w.now + 10_000);
    w.advance(10);
    expect(w.sync().status).toMatchObject({ availableReplicas: 1 });
  });
});

describe('Deployment (pkg/controller/deployment)', () => {
  const deployment = (spec: Record<string, unknown> = {}, image = 'localhost/busybox:test') => {
    const o = appsObject('Deployment', 'web', { replicas: 3, ...spec });
    (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = image;
    return decodeDeployment(o, 'web.yaml');
  };

  it('resolves maxSurge up and maxUnavailable down (ResolveFenceposts)', () => {
    expect(resolveFenceposts('25%', '25%', 3)).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveFenceposts('25%', '25%', 10)).toEqual({ surge: 3, unavailable: 2 });
    expect(resolveFenceposts(0, '10%', 3)).toEqual({ surge: 0, unavailable: 1 });
  });

  it('makes one ReplicaSet NAME-HASH whose pods are NAME-HASH-RAND5, and reports Available', () => {
    const d = deployment();
    const c = new DeploymentController(d, { random: counting() });
    const hash = computeHash(d.spec.template);
    expect(c.templateHash()).toBe(hash);
    const w = new PodWorld(c);
    const r = w.sync();
    expect(r.events![0]).toEqual({
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: `Scaled up replica set web-${hash} from 0 to 3`,
    });
    const first = (r.actions[0] as { create: Pod }).create;
    expect(first.metadata.name).toBe(`web-${hash}-bcdfg`);
    expect(first.metadata.labels).toEqual({ app: 'web', [POD_TEMPLATE_HASH]: hash });
    expect(first.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: `web-${hash}`,
        uid: derivedUid('uid-web', `web-${hash}`),
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(r.status.conditions).toEqual([
      {
        type: 'Available',
        status: 'False',
        reason: 'MinimumReplicasUnavailable',
        message: 'Deployment does not have minimum availability.',
        lastUpdateTime: '2026-01-01T00:00:00Z',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetCreated',
        message: `Created new replica set "web-${hash}"`,
        lastUpdateTime: '2026-01-01T00:00:00Z',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
    w.advance(5);
    w.allReady();
    const done = w.sync();
    expect(done.actions).toEqual([]);
    expect(done.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(done.status.unavailableReplicas).toBeUndefined();
    expect((done.status.conditions as { reason: string }[]).map((c) => c.reason)).toEqual([
      'MinimumReplicasAvailable',
      'NewReplicaSetAvailable',
    ]);
    expect(c.replicaSets()).toMatchObject([
      {
        name: `web-${hash}`,
        hash,
        created: Date.parse('2026-01-01T00:00:00Z'),
        replicas: 3,
        status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 },
        selector: { matchLabels: { app: 'web', [POD_TEMPLATE_HASH]: hash } },
      },
    ]);
    expect(c.replicaSets()[0]!.template.metadata.labels).toEqual({ app: 'web', [POD_TEMPLATE_HASH]: hash });
  });

  it('rolls a changed template out one surge pod at a time, never below 3 available (25%/25% of 3)', () => {
    const c = new DeploymentController(deployment(), { random: counting() });
    const w = new PodWorld(c);
    w.sync();
    w.allReady();
    w.sync();
    w.drain();
    const next = deployment({}, 'localhost/busybox:v2');
    c.update(next);
    const oldRS = `web-${computeHash(deployment().spec.template)}`;
    const newRS = `web-${computeHash(next.spec.template)}`;
    const steps: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = w.sync();
      steps.push(...(r.events ?? []).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message));
      // Every pod the host was asked to make becomes ready before the next round.
      w.allReady();
    }
    expect(steps).toEqual([
      `Scaled up replica set ${newRS} from 0 to 1`,
      `Scaled down replica set ${oldRS} from 3 to 2`,
      `Scaled up replica set ${newRS} from 1 to 2`,
      `Scaled down replica set ${oldRS} from 2 to 1`,
      `Scaled up replica set ${newRS} from 2 to 3`,
      `Scaled down replica set ${oldRS} from 1 to 0`,
    ]);
    expect(w.names().every((n) => n.startsWith(`${newRS}-`))).toBe(true);
    expect(w.names()).toHaveLength(3);
    const last = w.sync();
    expect(last.status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(c.replicaSets().map((r) => [r.name, r.replicas])).toEqual([
      [newRS, 3],
      [oldRS, 0],
    ]);
  });

  it('waits for the new pods to be ready before taking old ones away', () => {
    const c = new DeploymentController(deployment(), { random: counting() });
    const w = new PodWorld(c);
    w.sync();
    w.allReady();
    w.sync();
    c.update(deployment({}, 'localhost/busybox:v2'));
    w.drain();
    w.sync(); // surge pod made, Pending
    expect(w.drain()).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect(w.sync().actions).toEqual([]);
    expect(w.names()).toHaveLength(4);
  });

  it('a new controller for the edited object finds the old ReplicaSet from its pods', () => {
    const w0 = new PodWorld(new DeploymentController(deployment(), { random: counting() }));
    w0.sync();
    w0.allReady();
    const c = new DeploymentController(deployment({}, 'localhost/busybox:v2'), { random: counting() });
    const r = c.reconcile([...w0.pods.values()], w0.now);
    expect(r.actions).toHaveLength(1);
    expect(r.status).toMatchObject({ replicas: 3, availableReplicas: 3 });
    expect(r.status.updatedReplicas).toBeUndefined(); // 0, left out as omitempty leaves it
    expect(c.replicaSets().map((x) => x.replicas)).toEqual([1, 3]);
  });

  it('Recreate: every old pod goes, then the new ones come', () => {
    const c = new DeploymentController(deployment({ strategy: { type: 'Recreate' } }), { random: counting() });
    const w = new PodWorld(c);
    w.sync();
    w.allReady();
    w.sync();
    w.drain();
    c.update(deployment({ strategy: { type: 'Recreate' } }, 'localhost/busybox:v2'));
    const r = w.sync();
    expect(r.actions.map((a) => Object.keys(a)[0])).toEqual(['delete', 'delete', 'delete']);
    const r2 = w.sync();
    expect(r2.actions.map((a) => Object.keys(a)[0])).toEqual(['create', 'create', 'create']);
  });

  it('a failed pod of a Deployment is replaced within its ReplicaSet', () => {
    const w = new PodWorld(new DeploymentController(deployment(), { random: counting() }));
    w.sync();
    w.allReady();
    w.sync();
    w.drain();
    const victim = w.names()[1]!;
    w.set(victim, 'Failed', false);
    w.sync();
    const log = w.drain();
    expect(log[0]).toBe(`delete ${victim}`);
    expect(log[1]).toMatch(new RegExp(`^create ${victim.slice(0, -5)}[${'bcdfghjklmnpqrstvwxz2456789'}]{5}$`));
  });

  it('Progressing turns False after progressDeadlineSeconds without progress', () => {
    const w = new PodWorld(
      new DeploymentController(deployment({ progressDeadlineSeconds: 60 }), { random: counting() }),
    );
    expect(w.sync().wakeAt).toBe(w.now + 60_000);
    w.advance(30);
    // The pods now exist (updatedReplicas moved): progress, and the deadline counts from here.
    expect(w.sync().wakeAt).toBe(w.now + 60_000);
    w.advance(59);
    expect(w.sync().events).toEqual([]);
    w.advance(1);
    const r = w.sync();
    expect(r.events).toContainEqual({
      type: 'Warning',
      reason: 'ProgressDeadlineExceeded',
      message: 'Deployment "web" has timed out progressing.',
    });
    expect((r.status.conditions as { type: string; status: string; reason: string }[])[1]).toMatchObject({
      type: 'Progressing',
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it('a completed rollout never times out, even when a pod later stops being ready', () => {
    const w = new PodWorld(
      new DeploymentController(deployment({ progressDeadlineSeconds: 60 }), { random: counting() }),
    );
    w.sync();
    w.allReady();
    expect(w.sync().wakeAt).toBeUndefined();
    w.set(w.names()[0]!, 'Running', false);
    w.advance(120);
    const r = w.sync();
    expect(r.events).toEqual([]);
    expect(r.wakeAt).toBeUndefined();
    // 25% of 3 rounds down to 0 unavailable allowed: 2 of 3 is below minimum availability.
    expect((r.status.conditions as { reason: string }[]).map((c) => c.reason)).toEqual([
      'MinimumReplicasUnavailable',
      'NewReplicaSetAvailable',
    ]);
  });
});
