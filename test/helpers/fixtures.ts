import type { Container, Pod } from '../../src/api/types.js';
import { parseManifest } from '../../src/api/manifest.js';
import { pod as podManifest } from './pods.js';

/** A defaulted Container, as the spec module returns it. */
export function container(name: string, extra: Partial<Container> = {}): Container {
  return {
    name,
    image: 'localhost/busybox:test',
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    ...extra,
  };
}

/**
 * A defaulted Pod, as parseManifest returns it for the manifest pods.ts's `pod()` builds; `objects`
 * (ConfigMaps, Secrets) go in the same file, for the references the pod makes.
 */
export function pod(spec: Partial<Pod['spec']> = {}, name = 'demo', objects: object[] = []): Pod {
  const manifest = podManifest(name, { containers: [container('app')], ...spec }, { uid: '1111-2222' });
  return parseManifest([manifest, ...objects.map((o) => JSON.stringify(o))].join('\n---\n'), 'test').pod;
}

/** A v1 ConfigMap or Secret with `data`, to go with a pod. */
export function object(kind: 'ConfigMap' | 'Secret', name: string, data: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind, metadata: { name }, data };
}

export class FakeClock {
  constructor(public t = Date.parse('2026-01-01T00:00:00Z')) {}
  now = () => this.t;
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}
