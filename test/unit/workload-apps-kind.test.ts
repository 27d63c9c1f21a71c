import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentKind, serviceKind } from '../../src/workload/apps-kind.js';
import { WorkloadDir } from '../../src/workload/dir.js';
import { workloadKindNamed, workloadKindOf } from '../../src/workload/kinds.js';
import type { WorkloadContext } from '../../src/workload/object.js';
import { withServicePorts } from '../../src/workload/publish.js';
import { pod, container } from '../helpers/fixtures.js';

/** The apps/v1 kinds and v1 Service as the workload framework takes them (apps-kind.ts, kinds.ts, publish.ts). */

const none: WorkloadContext = { configMaps: new Map(), secrets: new Map(), claims: new Map() };

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } },
  },
};

const service = (name: string, nodePort?: number) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, nodePort }] },
});

let home: string;
const saved = process.env.PODBOX_HOME;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'podbox-apps-kind-'));
  process.env.PODBOX_HOME = home;
});
afterAll(() => {
  if (saved === undefined) delete process.env.PODBOX_HOME;
  else process.env.PODBOX_HOME = saved;
  rmSync(home, { recursive: true, force: true });
});

describe('the kinds registry', () => {
  it('names each kind as kubectl does: plural, singular, short, plural.group', () => {
    const kinds = ['deploy', 'rs', 'sts', 'ds', 'svc', 'deployments.apps', 'statefulset'].map(
      (r) => workloadKindNamed(r)?.kind,
    );
    expect(kinds).toEqual([
      'Deployment',
      'ReplicaSet',
      'StatefulSet',
      'DaemonSet',
      'Service',
      'Deployment',
      'StatefulSet',
    ]);
    expect(workloadKindOf('apps/v1', 'Deployment')?.kind).toBe('Deployment');
    expect(workloadKindOf('extensions/v1beta1', 'Deployment')).toBeUndefined();
  });
});

describe('Deployment', () => {
  it('parse: defaulted, with a uid and a creationTimestamp', () => {
    const o = deploymentKind.parse(deployment, 'web.yaml', none);
    expect(o.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((o.spec as { strategy: unknown }).strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
    });
  });

  it('parse: a template referring to a ConfigMap the files do not hold is refused at run', () => {
    const bad = structuredClone(deployment);
    (bad.spec.template.spec as Record<string, unknown>).volumes = [{ name: 'c', configMap: { name: 'missing' } }];
    expect(() => deploymentKind.parse(bad, 'web.yaml', none)).toThrow(
      /web\.yaml: deployment "web".*spec\.template\.spec\.volumes/,
    );
  });

  it("owns the pods whose controller is its ReplicaSet NAME-HASH, not pods naming the Deployment's uid", () => {
    const o = deploymentKind.parse(deployment, 'web.yaml', none);
    const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc12', uid: 'x', controller: true };
    const labels = { app: 'web', 'pod-template-hash': 'abc12' };
    expect(deploymentKind.owns!(o, { name: 'p', namespace: 'default', labels, ownerReferences: [rsRef] })).toBe(true);
    const other = { ...rsRef, name: 'other-abc12' };
    expect(deploymentKind.owns!(o, { name: 'p', namespace: 'default', labels, ownerReferences: [other] })).toBe(false);
    const direct = { ...rsRef, kind: 'Deployment', name: 'web', uid: o.metadata.uid };
    expect(deploymentKind.owns!(o, { name: 'p', namespace: 'default', labels, ownerReferences: [direct] })).toBe(false);
  });

  it("lists with kubectl's columns", () => {
    const o = deploymentKind.parse(deployment, 'web.yaml', none);
    const now = Date.parse(o.metadata.creationTimestamp) + 40_000;
    const table = deploymentKind.table!([{ object: o, status: { readyReplicas: 1, updatedReplicas: 2 } }], now, false);
    expect(table).toBe('NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    1/2     2            0           40s\n');
  });
});

describe('Service', () => {
  it('parse: a nodePort chosen from 30000-32767; one another Service has is refused', () => {
    const chosen = serviceKind.parse(service('a'), 'a.yaml', none);
    const port = (chosen.spec as { ports: { nodePort: number }[] }).ports[0]!.nodePort;
    expect(port).toBeGreaterThanOrEqual(30000);
    expect(port).toBeLessThanOrEqual(32767);
    const given = serviceKind.parse(service('b', 30080), 'b.yaml', none);
    WorkloadDir.create({ object: given, configMaps: [], secrets: [], claims: [], settings: {} }, 'service');
    try {
      expect(() => serviceKind.parse(service('c', 30080), 'c.yaml', none)).toThrow(
        'c.yaml: service "c" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
      );
      // The same Service again (run --replace) keeps its port.
      expect(() => serviceKind.parse(service('b', 30080), 'b.yaml', none)).not.toThrow();
      // A pod it selects gets the port as a hostPort before it is made; a second is told it is taken.
      const p = pod({ containers: [container('app', { ports: [{ containerPort: 8080, protocol: 'TCP' }] })] }, 'web-x');
      const web = { ...p, metadata: { ...p.metadata, labels: { app: 'web' } } };
      const pending = new Set<string>();
      const first = withServicePorts(web, { PODBOX_NETWORK: 'pasta' }, pending);
      expect(first.pod.spec.containers[0]!.ports).toEqual([{ containerPort: 8080, protocol: 'TCP', hostPort: 30080 }]);
      expect(first.skipped).toEqual([]);
      expect([...pending]).toEqual(['TCP/30080']);
      const second = withServicePorts(web, { PODBOX_NETWORK: 'pasta' }, pending);
      expect(second.skipped).toEqual(['service "b": host port 30080/TCP is already published']);
    } finally {
      WorkloadDir.of('Service', 'b').remove();
    }
  });
});
