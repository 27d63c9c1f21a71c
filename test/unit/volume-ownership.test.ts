import { describe, it, expect } from 'vitest';
import { parseManifest } from '../../src/api/manifest.js';
import { volumeOwnership, checkFsGroupMapped } from '../../src/volume/ownership.js';
import type { IdMapping } from '../../src/sandbox/idmap.js';

const podWith = (securityContext: Record<string, unknown>) =>
  parseManifest(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: { securityContext, containers: [{ name: 'app', image: 'busybox' }] },
    }),
    'pod.yaml',
  ).pod;

const rootless: IdMapping = {
  uid: [],
  gid: [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65535 },
  ],
  full: true,
  helper: true,
};
const single: IdMapping = { uid: [], gid: [{ inside: 0, outside: 1000, count: 1 }], full: false, helper: false };

describe("a volume's ownership (kubelet SetVolumeOwnership)", () => {
  it('only a persistent volume honours fsGroupChangePolicy; others are always walked (their plugins pass nil)', () => {
    const p = podWith({ fsGroup: 2000, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(volumeOwnership(p, '/v', { readOnly: false })).toEqual({
      path: '/v',
      fsGroup: 2000,
      policy: 'Always',
      readOnly: false,
    });
    expect(volumeOwnership(p, '/v', { readOnly: false, persistent: true }).policy).toBe('OnRootMismatch');
    expect(volumeOwnership(podWith({ fsGroup: 2000 }), '/v', { readOnly: true, persistent: true }).policy).toBe(
      'Always',
    );
  });

  it('a pod without fsGroup leaves its volumes as they are made', () => {
    expect(volumeOwnership(podWith({}), '/v', { readOnly: true }).fsGroup).toBeUndefined();
  });

  it('refuses a policy Kubernetes does not know', () => {
    expect(() => podWith({ fsGroup: 1, fsGroupChangePolicy: 'Sometimes' })).toThrow(/fsGroupChangePolicy/);
  });
});

describe('an fsGroup the pod does not map', () => {
  it('is refused in one line naming the pod and the range (adjacent ranges read as one)', () => {
    expect(() => checkFsGroupMapped(podWith({ fsGroup: 65536 }), () => rootless)).toThrow(
      `pod "web": securityContext.fsGroup 65536 is outside the pod's gids (0-65535)`,
    );
    expect(() => checkFsGroupMapped(podWith({ fsGroup: 2000 }), () => single)).toThrow(
      `pod "web": securityContext.fsGroup 2000 is outside the pod's gids (0)`,
    );
  });

  it('passes a mapped fsGroup, and reads no mapping for a pod without one', () => {
    expect(() => checkFsGroupMapped(podWith({ fsGroup: 65535 }), () => rootless)).not.toThrow();
    expect(() => checkFsGroupMapped(podWith({ fsGroup: 0 }), () => single)).not.toThrow();
    checkFsGroupMapped(podWith({}), () => {
      throw new Error('read');
    });
  });
});
