import { describe, it, expect } from 'vitest';
import {
  milliCpuToShares,
  milliCpuToQuota,
  sharesToWeight,
  containerResources,
  podCgroupValues,
  podFiles,
  askedLimits,
} from '../../src/cgroup/values.js';
import { qosClass } from '../../src/lifecycle/pod-machine.js';
import { parseManifest } from '../../src/api/manifest.js';
import { pod as podManifest } from '../helpers/pods.js';
import { container, pod } from '../helpers/fixtures.js';

const limited = (name: string, limits: Record<string, string>, requests?: Record<string, string>) =>
  container(name, { resources: { limits, ...(requests ? { requests } : {}) } });

describe('the kubelet conversions (pkg/kubelet/cm/helpers_linux.go)', () => {
  it('MilliCPUToShares: 1024 per cpu, at least 2, at most 262144', () => {
    expect([0, 1, 100, 200, 250, 1000, 2000, 300_000].map(milliCpuToShares)).toEqual([
      2, 2, 102, 204, 256, 1024, 2048, 262144,
    ]);
  });

  it('MilliCPUToQuota: over a 100000 us period, at least 1000; 0 is no quota', () => {
    expect([0, 1, 5, 10, 200, 1500].map((m) => milliCpuToQuota(m))).toEqual([0, 1000, 1000, 1000, 20000, 150000]);
  });

  it('shares as cgroup v2 cpu.weight (runc ConvertCPUSharesToCgroupV2Value)', () => {
    expect([0, 2, 204, 1024, 262144].map(sharesToWeight)).toEqual([0, 1, 8, 39, 10000]);
  });
});

describe("a container's OCI linux.resources", () => {
  it('limits.cpu: shares from the limit (the defaulted request), a 100000 us quota; limits.memory, swap off', () => {
    expect(containerResources(limited('a', { cpu: '200m', memory: '64Mi' }), true)).toEqual({
      cpu: { shares: 204, quota: 20000, period: 100000 },
      memory: { limit: 67108864, swap: 67108864 },
    });
  });

  it('no swap limit where the kernel does not account swap (swapControllerAvailable)', () => {
    expect(containerResources(limited('a', { memory: '1G' }), false)).toEqual({
      cpu: { shares: 2 },
      memory: { limit: 1_000_000_000 },
    });
  });

  it('requests.cpu alone: shares only', () => {
    expect(containerResources(container('a', { resources: { requests: { cpu: '250m' } } }), true)).toEqual({
      cpu: { shares: 256 },
    });
  });

  it('a request below the limit gives the shares, the limit the quota', () => {
    expect(containerResources(limited('a', { cpu: '1' }, { cpu: '100m' }), true)).toEqual({
      cpu: { shares: 102, quota: 100000, period: 100000 },
    });
  });

  it('nothing asked: nothing', () => {
    expect(containerResources(container('a'), true)).toBeUndefined();
  });
});

describe("the pod cgroup's values (ResourceConfigForPod)", () => {
  it('Guaranteed: the sums of shares, quota and memory', () => {
    const p = pod({
      containers: [limited('a', { cpu: '500m', memory: '64Mi' }), limited('b', { cpu: '1', memory: '64Mi' })],
    });
    expect(qosClass(p)).toBe('Guaranteed');
    expect(podCgroupValues(p)).toEqual({
      cpuShares: 1536,
      cpuQuota: 150000,
      cpuPeriod: 100000,
      memoryLimit: 134217728,
    });
  });

  it('Burstable: shares always; a quota and a memory limit only when every container declares one', () => {
    const p = pod({
      containers: [
        limited('a', { cpu: '200m', memory: '32Mi' }),
        container('b', { resources: { requests: { cpu: '100m' } } }),
      ],
    });
    expect(qosClass(p)).toBe('Burstable');
    expect(podCgroupValues(p)).toEqual({ cpuShares: 307 });
    const both = pod({ containers: [limited('a', { cpu: '200m' }), limited('b', { cpu: '300m', memory: '10Mi' })] });
    expect(podCgroupValues(both)).toEqual({ cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000 });
  });

  it('BestEffort: the minimum shares, and the pids limit when one is set', () => {
    expect(podCgroupValues(pod())).toEqual({ cpuShares: 2 });
    expect(podCgroupValues(pod(), 64)).toEqual({ cpuShares: 2, pidsLimit: 64 });
  });

  it('an init container larger than the app containers sets the totals (PodRequests/PodLimits)', () => {
    const p = pod({
      initContainers: [limited('init', { cpu: '2', memory: '256Mi' })],
      containers: [limited('a', { cpu: '500m', memory: '64Mi' })],
    });
    expect(podCgroupValues(p)).toEqual({
      cpuShares: 2048,
      cpuQuota: 200000,
      cpuPeriod: 100000,
      memoryLimit: 268435456,
    });
  });

  it('a sidecar counts with the app containers and with the init containers after it', () => {
    const p = pod({
      initContainers: [
        limited('side', { cpu: '100m', memory: '16Mi' }),
        { ...limited('side2', { cpu: '100m', memory: '16Mi' }), restartPolicy: 'Always' },
        limited('init', { cpu: '300m', memory: '16Mi' }),
      ],
      containers: [limited('a', { cpu: '100m', memory: '16Mi' })],
    });
    // init after sidecar side2: 300m + 100m = 400m beats the apps 100m + 100m.
    expect(podCgroupValues(p).cpuQuota).toBe(40000);
  });

  it('pod-level resources (1.32+) stand for the totals and set the QoS class', () => {
    const p = parseManifest(
      podManifest('pl', {
        resources: { limits: { cpu: '1', memory: '128Mi' } },
        containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: '100m' } } }],
      }),
      'test',
    ).pod;
    expect(qosClass(p)).toBe('Guaranteed');
    expect(podCgroupValues(p)).toEqual({
      cpuShares: 1024,
      cpuQuota: 100000,
      cpuPeriod: 100000,
      memoryLimit: 134217728,
    });
  });
});

describe('the files they are written to', () => {
  const v = { cpuShares: 1024, cpuQuota: 20000, cpuPeriod: 100000, memoryLimit: 67108864, pidsLimit: 32 };

  it('cgroup v1: cpu.shares, the period before the quota, memory.limit_in_bytes, pids.max', () => {
    expect(podFiles(v, 1)).toEqual([
      { controller: 'cpu', file: 'cpu.shares', value: '1024' },
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
      { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '20000' },
      { controller: 'memory', file: 'memory.limit_in_bytes', value: '67108864' },
      { controller: 'pids', file: 'pids.max', value: '32' },
    ]);
  });

  it('cgroup v2: cpu.weight, cpu.max "QUOTA PERIOD", memory.max, pids.max', () => {
    expect(podFiles(v, 2)).toEqual([
      { controller: 'cpu', file: 'cpu.weight', value: '39' },
      { controller: 'cpu', file: 'cpu.max', value: '20000 100000' },
      { controller: 'memory', file: 'memory.max', value: '67108864' },
      { controller: 'pids', file: 'pids.max', value: '32' },
    ]);
    expect(podFiles({ cpuShares: 2 }, 2)).toEqual([{ controller: 'cpu', file: 'cpu.weight', value: '1' }]);
  });
});

describe('the limits a warning names', () => {
  it('limits and requests.cpu asked for, and the pids limit', () => {
    const p = pod({ containers: [limited('a', { memory: '1Gi' }, { cpu: '1' })] });
    expect(askedLimits(p, 100)).toEqual(['limits.memory', 'requests.cpu', 'pids limit']);
    expect(askedLimits(pod())).toEqual([]);
  });
});

describe('pod-level resources as the API server validates them (validatePodResources)', () => {
  const parse = (resources: unknown) => () =>
    parseManifest(podManifest('pl', { resources, containers: [{ name: 'a', image: 'x' }] }), 'pod.yaml');

  it('cpu and memory limits and requests are accepted', () => {
    expect(parse({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } })().pod.spec.resources).toEqual({
      limits: { cpu: '1', memory: '1Gi' },
      requests: { cpu: '500m' },
    });
  });

  it('another resource is refused, as is a request above its limit', () => {
    expect(parse({ limits: { 'hugepages-2Mi': '2Mi' } })).toThrow(
      'spec.resources.limits.hugepages-2Mi: Invalid value "2Mi": ' +
        'not a pod-level resource: supported values: "cpu", "memory"',
    );
    expect(parse({ limits: { cpu: '1' }, requests: { cpu: '2' } })).toThrow(
      'spec.resources.requests.cpu: Invalid value "2": must be less than or equal to cpu limit of 1',
    );
  });
});
