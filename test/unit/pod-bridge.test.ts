import { describe, it, expect } from 'vitest';
import { nestedIdMap, onPodNetwork, podBridgePlan } from '../../src/sandbox/pod-bridge.js';

describe('pod-bridge: planning a pod on the pod network', () => {
  it('maps each of the pod network user namespace ranges to itself, one line each', () => {
    // Rootless: you, then your subordinate ids (each line must fall in one range of the parent's map).
    const rootless = [
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 65535 },
    ];
    expect(nestedIdMap(rootless)).toBe('0 0 1\n1 1 65535\n');
    expect(nestedIdMap([{ inside: 0, outside: 0, count: 65536 }])).toBe('0 0 65536\n');
    expect(nestedIdMap([{ inside: 0, outside: 1000, count: 1 }])).toBe('0 0 1\n');
  });

  it("names the pod's veth by its pause and routes the pods' /16 through eth1", () => {
    expect(podBridgePlan('10.89.7.100', 4242)).toEqual({
      bridge: 'podbox0',
      veth: 'pb4242',
      interface: 'eth1',
      route: '10.89.0.0/16',
    });
    // The longest name a pid can give stays within IFNAMSIZ (15 characters).
    expect(podBridgePlan('10.88.1.100', 4194304).veth.length).toBeLessThanOrEqual(15);
  });

  it('puts only pods with a user-mode stack on it', () => {
    expect(['pasta', 'slirp4netns', 'none', 'host'].map((m) => onPodNetwork(m as never))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
