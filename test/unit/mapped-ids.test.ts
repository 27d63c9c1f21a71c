import { describe, it, expect } from 'vitest';
import { parseManifest } from '../../src/api/manifest.js';
import { checkIdsMapped } from '../../src/sandbox/mapped-ids.js';
import type { IdMapping } from '../../src/sandbox/idmap.js';

const podWith = (securityContext: Record<string, unknown>, containerContext?: Record<string, unknown>) =>
  parseManifest(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        securityContext,
        initContainers: [{ name: 'init', image: 'busybox' }],
        containers: [{ name: 'app', image: 'busybox', securityContext: containerContext }],
      },
    }),
    'pod.yaml',
  ).pod;

// Rootless with a subordinate range: 0 = the user, 1..65535 = its subordinate ids.
const range = [
  { inside: 0, outside: 1000, count: 1 },
  { inside: 1, outside: 100000, count: 65535 },
];
const rootless: IdMapping = { uid: range, gid: range, full: true, helper: true };
const only0 = [{ inside: 0, outside: 1000, count: 1 }];
const single: IdMapping = { uid: only0, gid: only0, full: false, helper: false };
const message = (f: () => void) => {
  try {
    f();
  } catch (e) {
    return `${(e as Error).message}: ${(e as { hint?: string }).hint}`;
  }
  return 'no error';
};

describe('ids the pod does not map are refused at run, in one line', () => {
  it('fsGroup (adjacent ranges read as one)', () => {
    expect(message(() => checkIdsMapped(podWith({ fsGroup: 65536 }), () => rootless))).toBe(
      `pod "web": securityContext.fsGroup 65536 is outside the pod's gids (0-65535): choose an fsGroup in that range`,
    );
    expect(message(() => checkIdsMapped(podWith({ fsGroup: 2000 }), () => single))).toBe(
      `pod "web": securityContext.fsGroup 2000 is outside the pod's gids (0): choose an fsGroup in that range, ` +
        'or give your user a subordinate gid range (run `podbox doctor`)',
    );
  });

  it("a container's runAsUser, the pod's runAsGroup and supplementalGroups", () => {
    expect(message(() => checkIdsMapped(podWith({}, { runAsUser: 70000 }), () => rootless))).toBe(
      `pod "web": containers[0] "app": securityContext.runAsUser 70000 is outside the pod's uids (0-65535): ` +
        'choose a runAsUser in that range',
    );
    expect(message(() => checkIdsMapped(podWith({ runAsGroup: 65536 }), () => rootless))).toBe(
      `pod "web": securityContext.runAsGroup 65536 is outside the pod's gids (0-65535): choose a runAsGroup in that range`,
    );
    expect(message(() => checkIdsMapped(podWith({ supplementalGroups: [5, 99999] }), () => rootless))).toBe(
      `pod "web": securityContext.supplementalGroups 99999 is outside the pod's gids (0-65535): ` +
        'choose supplementalGroups in that range',
    );
  });

  it('passes mapped ids, and reads no mapping for a pod that names none', () => {
    expect(message(() => checkIdsMapped(podWith({ fsGroup: 65535, runAsUser: 1000 }), () => rootless))).toBe(
      'no error',
    );
    expect(message(() => checkIdsMapped(podWith({ fsGroup: 0 }, { runAsUser: 0 }), () => single))).toBe('no error');
    checkIdsMapped(podWith({}), () => {
      throw new Error('read');
    });
  });
});
