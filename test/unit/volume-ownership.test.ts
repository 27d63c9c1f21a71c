import { describe, it, expect } from 'vitest';
import { parseManifest } from '../../src/api/manifest.js';
import { volumeOwnership } from '../../src/volume/ownership.js';

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
