import { describe, it, expect } from 'vitest';
import { podCgroupPaths, containerCgroupPath } from '../../src/cgroup/layout.js';
import { cgroupHierarchies, cgroupDir, hierarchyPath, delegatedParent } from '../../src/cgroup/where.js';

describe("a pod's cgroup paths (the kubelet's cgroupfs driver)", () => {
  it('Burstable and BestEffort pods under their QoS level, Guaranteed ones under kubepods', () => {
    expect(podCgroupPaths('/podbox-1001', 'Burstable', 'u1')).toEqual({
      shared: ['/podbox-1001/kubepods', '/podbox-1001/kubepods/burstable'],
      pod: '/podbox-1001/kubepods/burstable/podu1',
      pause: '/podbox-1001/kubepods/burstable/podu1/pause',
    });
    expect(podCgroupPaths('/', 'BestEffort', 'u2').pod).toBe('/kubepods/besteffort/podu2');
    expect(podCgroupPaths('/', 'Guaranteed', 'u3')).toEqual({
      shared: ['/kubepods'],
      pod: '/kubepods/podu3',
      pause: '/kubepods/podu3/pause',
    });
  });

  it("a container instance's cgroup is under its pod's", () => {
    expect(containerCgroupPath('/kubepods/podu3', 'app.0')).toBe('/kubepods/podu3/app.0');
  });
});

describe('the hierarchies (mountinfo)', () => {
  const hybrid = [
    '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '32 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '41 22 0:5 / /proc rw - proc proc rw',
  ].join('\n');

  it('v1 (hybrid): every v1 hierarchy with its controllers; the unified one marked hybrid', () => {
    expect(cgroupHierarchies(hybrid)).toEqual({
      version: 1,
      list: [
        { mount: '/sys/fs/cgroup/cpu', controllers: ['cpu'] },
        { mount: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] },
        { mount: '/sys/fs/cgroup/memory', controllers: ['memory'] },
        { mount: '/sys/fs/cgroup/systemd', controllers: ['xattr', 'name=systemd'] },
        { mount: '/sys/fs/cgroup/unified', controllers: [], hybrid: true },
      ],
    });
  });

  it('v2: /sys/fs/cgroup itself', () => {
    const v2 = '30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
    expect(cgroupHierarchies(v2)).toEqual({ version: 2, list: [{ mount: '/sys/fs/cgroup', controllers: [] }] });
  });

  it('paths inside a hierarchy and their directories', () => {
    expect(hierarchyPath('podbox-1001/')).toBe('/podbox-1001');
    expect(cgroupDir({ mount: '/sys/fs/cgroup/memory', controllers: ['memory'] }, '/')).toBe('/sys/fs/cgroup/memory');
    expect(cgroupDir({ mount: '/sys/fs/cgroup', controllers: [] }, '/a/b')).toBe('/sys/fs/cgroup/a/b');
    expect(delegatedParent(1001)).toBe('/podbox-1001');
  });
});
