import { describe, expect, it } from 'vitest';
import { decodeDaemonSet, decodeStatefulSet } from '../../src/workload/apps-schema.js';
import {
  CONTROLLER_REVISION_HASH,
  POD_INDEX,
  STATEFULSET_POD_NAME,
  StatefulSetController,
} from '../../src/workload/stateful-set.js';
import { DaemonSetController, nodeLabels } from '../../src/workload/daemon-set.js';
import { computeHash } from '../../src/workload/naming.js';
import type { Pod } from '../../src/api/types.js';
import { PodWorld, appsObject, counting } from '../helpers/workloads.js';

const set = (spec: Record<string, unknown> = {}) =>
  decodeStatefulSet(appsObject('StatefulSet', 'db', { replicas: 3, serviceName: 'db', ...spec }), 'db.yaml');

describe('StatefulSet (pkg/controller/statefulset/stateful_set_control.go)', () => {
  it('OrderedReady: db-i is made only when db-0..db-(i-1) are Running and Ready', () => {
    const w = new PodWorld(new StatefulSetController(set()));
    w.sync();
    expect(w.drain()).toEqual(['create db-0']);
    expect(w.sync().actions).toEqual([]);
    w.set('db-0', 'Running', false);
    expect(w.sync().actions).toEqual([]);
    w.set('db-0', 'Running', true);
    w.sync();
    expect(w.drain()).toEqual(['create db-1']);
    w.set('db-1', 'Running', true);
    w.sync();
    expect(w.drain()).toEqual(['create db-2']);
    w.set('db-2', 'Running', true);
    const r = w.sync();
    expect(r.actions).toEqual([]);
    const rev = `db-${computeHash(set().spec.template)}`;
    expect(r.status).toEqual({
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      currentReplicas: 3,
      updatedReplicas: 3,
      currentRevision: rev,
      updateRevision: rev,
      collisionCount: 0,
      availableReplicas: 3,
    });
  });

  it('gives each pod its identity: name, hostname, subdomain, labels, claims', () => {
    const s = set({
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    });
    const r = new StatefulSetController(s).reconcile([], 0);
    expect(r.events).toEqual([
      { type: 'Normal', reason: 'SuccessfulCreate', message: 'create Pod db-0 in StatefulSet db successful' },
    ]);
    const pod = (r.actions[0] as { create: Pod }).create;
    expect(pod.metadata.name).toBe('db-0');
    expect(pod.metadata.labels).toEqual({
      app: 'db',
      [CONTROLLER_REVISION_HASH]: `db-${computeHash(s.spec.template)}`,
      [STATEFULSET_POD_NAME]: 'db-0',
      [POD_INDEX]: '0',
    });
    expect(pod.spec.hostname).toBe('db-0');
    expect(pod.spec.subdomain).toBe('db');
    expect(pod.spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }]);
    expect(pod.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: 'db',
        uid: 'uid-db',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('Parallel makes them all at once; ordinals.start moves the numbers', () => {
    const w = new PodWorld(new StatefulSetController(set({ podManagementPolicy: 'Parallel', ordinals: { start: 5 } })));
    w.sync();
    expect(w.drain()).toEqual(['create db-5', 'create db-6', 'create db-7']);
  });

  it('a failed pod is deleted and made again with the same name', () => {
    const w = new PodWorld(new StatefulSetController(set()));
    for (let i = 0; i < 3; i++) {
      w.sync();
      w.allReady();
    }
    w.drain();
    w.set('db-1', 'Failed', false);
    const r = w.sync();
    expect(r.events![0]).toEqual({
      type: 'Warning',
      reason: 'RecreatingFailedPod',
      message: 'StatefulSet default/db is recreating failed Pod db-1',
    });
    expect(w.drain()).toEqual(['delete db-1']);
    w.sync();
    expect(w.drain()).toEqual(['create db-1']);
  });

  it('scales down highest first, one at a time', () => {
    const c = new StatefulSetController(set());
    const w = new PodWorld(c);
    for (let i = 0; i < 3; i++) {
      w.sync();
      w.allReady();
    }
    w.drain();
    c.update(set({ replicas: 1 }));
    w.sync();
    expect(w.drain()).toEqual(['delete db-2']);
    w.sync();
    expect(w.drain()).toEqual(['delete db-1']);
    w.sync();
    expect(w.drain()).toEqual([]);
  });

  it('rolls a new template out from the highest ordinal, each waiting for the one before', () => {
    const c = new StatefulSetController(set());
    const w = new PodWorld(c);
    for (let i = 0; i < 3; i++) {
      w.sync();
      w.allReady();
    }
    w.drain();
    const next = set();
    next.spec.template.spec.containers[0]!.image = 'localhost/busybox:v2';
    c.update(next);
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      w.sync();
      order.push(...w.drain());
      w.allReady();
    }
    expect(order).toEqual(['delete db-2', 'create db-2', 'delete db-1', 'create db-1', 'delete db-0', 'create db-0']);
  });
});

describe('DaemonSet (pkg/controller/daemon/daemon_controller.go)', () => {
  const ds = (spec: Record<string, unknown> = {}) => decodeDaemonSet(appsObject('DaemonSet', 'agent', spec), 'ds.yaml');

  it('runs one pod NAME-RAND5 on this node, with the daemon tolerations and node affinity', () => {
    const w = new PodWorld(new DaemonSetController(ds(), { random: counting(), nodeLabels: nodeLabels('x64') }));
    const r = w.sync();
    expect(w.drain()).toEqual(['create agent-bcdfg']);
    const pod = (r.actions[0] as { create: Pod }).create;
    expect(pod.metadata.labels).toEqual({
      app: 'agent',
      [CONTROLLER_REVISION_HASH]: computeHash(ds().spec.template),
      'pod-template-generation': '1',
    });
    expect(pod.spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['podbox'] }] }],
        },
      },
    });
    expect((pod.spec.tolerations as { key: string }[]).map((t) => t.key)).toEqual([
      'node.kubernetes.io/not-ready',
      'node.kubernetes.io/unreachable',
      'node.kubernetes.io/disk-pressure',
      'node.kubernetes.io/memory-pressure',
      'node.kubernetes.io/pid-pressure',
      'node.kubernetes.io/unschedulable',
    ]);
    w.allReady();
    expect(w.sync().status).toEqual({
      currentNumberScheduled: 1,
      numberMisscheduled: 0,
      desiredNumberScheduled: 1,
      numberReady: 1,
      observedGeneration: 1,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
    });
  });

  it('a failed daemon pod is deleted, then replaced, with back-off between failures', () => {
    const w = new PodWorld(new DaemonSetController(ds(), { random: counting(), nodeLabels: nodeLabels('x64') }));
    w.sync();
    w.allReady();
    w.drain();
    w.set('agent-bcdfg', 'Failed', false);
    const r = w.sync();
    expect(r.events![0]).toEqual({
      type: 'Warning',
      reason: 'FailedDaemonPod',
      message: 'Found failed daemon pod default/agent-bcdfg on node podbox, will try to kill it',
    });
    expect(w.drain()).toEqual(['delete agent-bcdfg']);
    w.sync();
    expect(w.drain()).toEqual(['create agent-hjklm']);
    w.set('agent-hjklm', 'Failed', false);
    const again = w.sync();
    expect(again.actions).toEqual([]);
    expect(again.wakeAt).toBe(w.now + 1000);
    w.advance(1);
    w.sync();
    expect(w.drain()).toEqual(['delete agent-hjklm']);
  });

  it('a nodeSelector this node does not match runs nothing', () => {
    const o = appsObject('DaemonSet', 'agent');
    (o.spec as { template: { spec: Record<string, unknown> } }).template.spec.nodeSelector = { disktype: 'ssd' };
    const r = new DaemonSetController(decodeDaemonSet(o, 'f'), { nodeLabels: nodeLabels('x64') }).reconcile([], 0);
    expect(r.actions).toEqual([]);
    expect(r.status).toMatchObject({ desiredNumberScheduled: 0, currentNumberScheduled: 0 });
  });

  it('RollingUpdate replaces the pod of an older template (maxSurge 0: delete first)', () => {
    const c = new DaemonSetController(ds(), { random: counting(), nodeLabels: nodeLabels('x64') });
    const w = new PodWorld(c);
    w.sync();
    w.allReady();
    w.drain();
    const next = ds();
    next.spec.template.spec.containers[0]!.image = 'localhost/busybox:v2';
    c.update(next);
    w.sync();
    expect(w.drain()).toEqual(['delete agent-bcdfg']);
    w.sync();
    expect(w.drain()).toEqual(['create agent-hjklm']);
  });
});
