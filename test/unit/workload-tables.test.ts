import { describe, expect, it } from 'vitest';
import { decodeDaemonSet, decodeDeployment, decodeStatefulSet } from '../../src/workload/apps-schema.js';
import { decodeService } from '../../src/workload/service.js';
import {
  daemonSetsTable,
  deploymentsTable,
  replicaSetsTable,
  serviceStatus,
  servicesTable,
  statefulSetsTable,
} from '../../src/workload/tables.js';
import { appsObject } from '../helpers/workloads.js';

const created = Date.parse('2026-01-01T00:00:00Z');
const now = created + 5 * 60_000;

describe('kubectl get tables for workloads (printers.go)', () => {
  it('deployments: NAME READY UP-TO-DATE AVAILABLE AGE', () => {
    const d = decodeDeployment(appsObject('Deployment', 'web', { replicas: 3 }), 'f');
    const status = { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 };
    expect(deploymentsTable([{ object: d, status, created }], now)).toBe(
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n' + 'web    2/3     3            2           5m\n',
    );
    expect(deploymentsTable([{ object: d, status, created }], now, true)).toBe(
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                   SELECTOR\n' +
        'web    2/3     3            2           5m    app          localhost/busybox:test   app=web\n',
    );
  });

  it('replicasets: NAME DESIRED CURRENT READY AGE', () => {
    const d = decodeDeployment(appsObject('Deployment', 'web', { replicas: 3 }), 'f');
    const rows = [
      {
        name: 'web-7c5ddbdf54',
        replicas: 3,
        status: { replicas: 3, readyReplicas: 3 },
        created,
        template: d.spec.template,
        selector: d.spec.selector,
      },
      {
        name: 'web-5d4f8b9c6',
        replicas: 0,
        status: { replicas: 0 },
        created,
        template: d.spec.template,
        selector: d.spec.selector,
      },
    ];
    expect(replicaSetsTable(rows, now)).toBe(
      'NAME             DESIRED   CURRENT   READY   AGE\n' +
        'web-7c5ddbdf54   3         3         3       5m\n' +
        'web-5d4f8b9c6    0         0         0       5m\n',
    );
  });

  it('statefulsets: NAME READY AGE', () => {
    const s = decodeStatefulSet(appsObject('StatefulSet', 'db', { replicas: 3 }), 'f');
    expect(statefulSetsTable([{ object: s, status: { replicas: 1, readyReplicas: 1 }, created }], now)).toBe(
      'NAME   READY   AGE\n' + 'db     1/3     5m\n',
    );
  });

  it('daemonsets: NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE', () => {
    const ds = decodeDaemonSet(appsObject('DaemonSet', 'agent'), 'f');
    const status = {
      desiredNumberScheduled: 1,
      currentNumberScheduled: 1,
      numberReady: 1,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
    };
    expect(daemonSetsTable([{ object: ds, status, created }], now)).toBe(
      'NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n' +
        'agent   1         1         1       1            1           <none>          5m\n',
    );
    const o = appsObject('DaemonSet', 'agent');
    (o.spec as { template: { spec: Record<string, unknown> } }).template.spec.nodeSelector = {
      'kubernetes.io/os': 'linux',
    };
    expect(daemonSetsTable([{ object: decodeDaemonSet(o, 'f'), status, created }], now)).toContain(
      '   kubernetes.io/os=linux   5m\n',
    );
  });

  it('services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE', () => {
    const svc = (name: string, spec: Record<string, unknown>) =>
      decodeService({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec }, 'f');
    const items = [
      svc('web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] }),
      svc('lb', { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 8080, nodePort: 31000 }] }),
      svc('db', { clusterIP: 'None', selector: { app: 'db' } }),
      svc('api', {
        selector: { app: 'api' },
        ports: [
          { name: 'http', port: 80 },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      }),
    ].map((object) => ({ object, status: serviceStatus(object), created }));
    expect(servicesTable(items, now)).toBe(
      'NAME   TYPE           CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE\n' +
        'web    NodePort       <none>       <none>        80:30080/TCP     5m\n' +
        'lb     LoadBalancer   <none>       localhost     8080:31000/TCP   5m\n' +
        'db     ClusterIP      None         <none>        <none>           5m\n' +
        'api    ClusterIP      <none>       <none>        80/TCP,53/UDP    5m\n',
    );
  });
});
