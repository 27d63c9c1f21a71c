import { describe, expect, it } from 'vitest';
import { allocateNodePorts, decodeService, publishServices, serviceHostPorts } from '../../src/workload/service.js';
import { publishedPorts } from '../../src/sandbox/network.js';
import { container, pod } from '../helpers/fixtures.js';
import { counting } from '../helpers/workloads.js';

const service = (spec: Record<string, unknown>, name = 'web') =>
  decodeService({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec }, 'svc.yaml');

const webPod = (spec = {}) =>
  pod(
    {
      containers: [container('app', { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] })],
      ...spec,
    },
    'web-abc',
  );
const labelled = (p: ReturnType<typeof webPod>) => ({ ...p, metadata: { ...p.metadata, labels: { app: 'web' } } });

describe('Service → published host ports', () => {
  it('a NodePort publishes nodePort into the container port its targetPort names', () => {
    const svc = service({
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 'http', nodePort: 30080 }],
    });
    const r = publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 1024 });
    expect(r.published).toEqual([{ service: 'web', hostPort: 30080, containerPort: 8080, protocol: 'TCP' }]);
    expect(r.skipped).toEqual([]);
    // The existing hostPort publishing then does the rest.
    expect(publishedPorts(r.pod)).toEqual([
      { hostIP: '0.0.0.0', hostPort: 30080, containerPort: 8080, protocol: 'TCP' },
    ]);
  });

  it('a numeric targetPort no container declares is forwarded into the pod anyway', () => {
    const svc = service({ type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 9000, nodePort: 30090 }] });
    const r = publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 1024 });
    expect(publishedPorts(r.pod)).toEqual([
      { hostIP: '0.0.0.0', hostPort: 30090, containerPort: 9000, protocol: 'TCP' },
    ]);
    expect(r.pod.spec.containers[0]!.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { containerPort: 9000, protocol: 'TCP', hostPort: 30090 },
    ]);
  });

  it('a LoadBalancer publishes its port and its nodePort; a low port is skipped with the reason', () => {
    const svc = service({
      type: 'LoadBalancer',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
    });
    expect(serviceHostPorts(svc).map((p) => p.hostPort)).toEqual([80, 30080]);
    const r = publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 1024 });
    expect(r.published.map((p) => p.hostPort)).toEqual([30080]);
    expect(r.skipped).toEqual([
      {
        service: 'web',
        hostPort: 80,
        why:
          'host port 80/TCP is below 1024, the lowest port a user may bind ' +
          '(use a NodePort, or lower net.ipv4.ip_unprivileged_port_start)',
      },
    ]);
    const root = publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 0 });
    expect(publishedPorts(root.pod).map((p) => p.hostPort)).toEqual([80, 30080]);
  });

  it('one host port goes into one pod: a port another pod has is skipped', () => {
    const svc = service({
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
    });
    const r = publishServices([svc], labelled(webPod()), { taken: new Set(['TCP/30080']), lowestPort: 1024 });
    expect(r.published).toEqual([]);
    expect(r.skipped).toEqual([{ service: 'web', hostPort: 30080, why: 'host port 30080/TCP is already published' }]);
    expect(r.pod).toEqual(labelled(webPod()));
  });

  it('ClusterIP, a selector that does not match, and hostNetwork pods publish nothing', () => {
    const cluster = service({ selector: { app: 'web' }, ports: [{ port: 80 }] });
    expect(publishServices([cluster], labelled(webPod()), { taken: new Set(), lowestPort: 0 }).published).toEqual([]);
    const other = service({ type: 'NodePort', selector: { app: 'db' }, ports: [{ port: 80, nodePort: 30080 }] });
    expect(publishServices([other], labelled(webPod()), { taken: new Set(), lowestPort: 0 }).published).toEqual([]);
    const node = service({ type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] });
    const host = labelled(webPod({ hostNetwork: true }));
    expect(publishServices([node], host, { taken: new Set(), lowestPort: 0 }).published).toEqual([]);
  });

  it('under --network=none nothing is published, so the pod still starts', () => {
    const svc = service({ type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] });
    const r = publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 0, network: 'none' });
    expect(r.pod).toEqual(labelled(webPod()));
    expect(r.skipped).toEqual([
      {
        service: 'web',
        hostPort: 30080,
        why: 'host port 30080 cannot be published with --network=none (use `podbox port-forward`)',
      },
    ]);
  });

  it('a named targetPort that names nothing is skipped, naming the pod', () => {
    const svc = service({
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 'grpc', nodePort: 30080 }],
    });
    expect(publishServices([svc], labelled(webPod()), { taken: new Set(), lowestPort: 0 }).skipped).toEqual([
      { service: 'web', hostPort: 30080, why: 'targetPort "grpc" names no container port of pod "web-abc"' },
    ]);
  });

  it('allocates node ports as the API server does: free ones of 30000-32767', () => {
    const svc = service({
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [
        { name: 'a', port: 80 },
        { name: 'b', port: 81, nodePort: 30001 },
        { name: 'c', port: 82 },
      ],
    });
    const r = allocateNodePorts(svc, new Set([30002]), counting());
    // counting() offers 0, 1, 2, 3...: 30000 is free; 30001 is the Service's own; 30002 is taken.
    expect(r.spec.ports.map((p) => p.nodePort)).toEqual([30000, 30001, 30003]);
    const cluster = service({ selector: { app: 'web' }, ports: [{ port: 80 }] });
    expect(allocateNodePorts(cluster, new Set())).toBe(cluster);
  });
});
