import { describe, it, expect } from 'vitest';
import { allowedOomScoreAdj, containerOomScoreAdj } from '../../src/container/oom-score.js';
import { container, pod } from '../helpers/fixtures.js';

const GiB = 1024 ** 3;

describe('oom_score_adj by QoS class (kubelet qos/policy.go GetContainerOOMScoreAdjust)', () => {
  it('BestEffort 1000, Guaranteed -997', () => {
    const p = pod();
    expect(containerOomScoreAdj(p, p.spec.containers[0]!, 16 * GiB)).toBe(1000);
    const limits = { cpu: '100m', memory: '64Mi' };
    const g = pod({ containers: [container('app', { resources: { limits } })] });
    expect(containerOomScoreAdj(g, g.spec.containers[0]!, 16 * GiB)).toBe(-997);
  });

  it('Burstable: 1000 less the thousandths of the node its memory request takes, kept within 3..999', () => {
    const burst = (memory: string | undefined) => {
      const c = container('app', { resources: { requests: memory ? { memory } : { cpu: '10m' } } });
      const p = pod({ containers: [c] });
      return containerOomScoreAdj(p, p.spec.containers[0]!, 16 * GiB);
    };
    expect(burst('1600Mi')).toBe(1000 - Math.trunc((1000 * 1600) / (16 * 1024))); // 903
    expect(burst('1Gi')).toBe(938); // 1000 - 62.5, truncated
    expect(burst('16Gi')).toBe(3); // never as low as Guaranteed
    expect(burst(undefined)).toBe(999); // no memory request: 1000, made one less than BestEffort
  });

  it('a sidecar is scored from the least of its request and the regular containers’, plus one', () => {
    const sidecar = container('proxy', { restartPolicy: 'Always', resources: { requests: { memory: '2Gi' } } });
    const app = container('app', { resources: { requests: { memory: '1Gi' } } });
    const p = pod({ initContainers: [sidecar], containers: [app] });
    // min(2Gi, 1Gi) = 1Gi → 1000 - 62 = 938, +1 as 1Gi <= 2Gi: killed before the app (938)
    expect(containerOomScoreAdj(p, p.spec.initContainers![0]!, 16 * GiB)).toBe(939);
    expect(containerOomScoreAdj(p, p.spec.containers[0]!, 16 * GiB)).toBe(938);
  });

  it('a system-node-critical pod is scored as Guaranteed', () => {
    const p = pod({ priorityClassName: 'system-node-critical' } as never);
    expect(containerOomScoreAdj(p, p.spec.containers[0]!, 16 * GiB)).toBe(-997);
  });

  it('what runc may set is never below the floor it inherits', () => {
    expect(allowedOomScoreAdj(-997, 0)).toBe(0);
    expect(allowedOomScoreAdj(-997, -999)).toBe(-997);
    expect(allowedOomScoreAdj(1000, 0)).toBe(1000);
  });
});
