import type { Container, Pod } from '../../src/api/types.js';

/** A defaulted Container, as the spec module returns it. */
export function container(name: string, extra: Partial<Container> = {}): Container {
  return {
    name, image: 'localhost/busybox:test', imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...extra,
  };
}

export function pod(spec: Partial<Pod['spec']> = {}, name = 'demo'): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', uid: '1111-2222' },
    spec: {
      containers: [container('app')], restartPolicy: 'Always', terminationGracePeriodSeconds: 30,
      securityContext: {}, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', enableServiceLinks: true,
      ...spec,
    },
  };
}

export class FakeClock {
  constructor(public t = Date.parse('2026-01-01T00:00:00Z')) {}
  now = () => this.t;
  advance(seconds: number) { this.t += seconds * 1000; }
}
