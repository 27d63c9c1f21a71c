import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podCgroupPaths, containerCgroupPath } from '../../src/cgroup/layout.js';
import {
  cgroupHierarchies,
  cgroupDir,
  hierarchyPath,
  delegatedParent,
  findCgroupPlace,
  type CgroupHost,
} from '../../src/cgroup/where.js';

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

describe('where pods get their cgroups (findCgroupPlace), on directories standing in for the hierarchies', () => {
  const made: string[] = [];
  const tree = (...dirs: string[]) => {
    const top = mkdtempSync(join(tmpdir(), 'podbox-cgroup-'));
    made.push(top);
    for (const d of dirs) mkdirSync(join(top, d), { recursive: true });
    return top;
  };
  afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const v1 = (top: string): CgroupHost => ({
    version: 1,
    list: [
      { mount: `${top}/cpu`, controllers: ['cpu'] },
      { mount: `${top}/memory`, controllers: ['memory'] },
      { mount: `${top}/unified`, controllers: [], hybrid: true },
    ],
  });

  it('v1, PODBOX_CGROUP_PARENT: the same path in every hierarchy (the hybrid v2 one aside)', () => {
    const top = tree('cpu/ci', 'memory/ci', 'unified');
    expect(findCgroupPlace({ PODBOX_CGROUP_PARENT: '/ci' }, 4242, v1(top))).toEqual({
      place: { version: 1, hierarchies: v1(top).list, parent: '/ci', found: 'PODBOX_CGROUP_PARENT=/ci' },
    });
    expect(findCgroupPlace({ PODBOX_CGROUP_PARENT: '/gone' }, 4242, v1(top))).toEqual({
      why: `PODBOX_CGROUP_PARENT=/gone: ${top}/cpu/gone is not writable (nor in 1 other hierarchies)`,
    });
  });

  it('v1 rootless: /podbox-UID, what scripts/delegate-cgroups.sh makes, else none', () => {
    const top = tree('cpu/podbox-4242', 'memory/podbox-4242');
    expect(findCgroupPlace({}, 4242, v1(top))).toMatchObject({
      place: { parent: '/podbox-4242', found: 'delegated cgroup /podbox-4242' },
    });
    expect(findCgroupPlace({}, 4343, v1(top))).toEqual({ why: 'cgroups are v1 here and none is delegated to you' });
    const half = tree('cpu/podbox-4242', 'memory');
    expect(findCgroupPlace({}, 4242, v1(half))).toEqual({
      why: `delegated cgroup /podbox-4242: ${half}/memory/podbox-4242 is not writable`,
    });
  });

  it('root: the top of each hierarchy', () => {
    const top = tree('cpu', 'memory');
    expect(findCgroupPlace({}, 0, v1(top))).toMatchObject({ place: { parent: '/' } });
  });

  it('v2: an absolute PODBOX_CGROUP_PARENT under the mount, with cpu, memory and pids delegated to it', () => {
    const top = tree('podbox-4242');
    const host: CgroupHost = { version: 2, list: [{ mount: top, controllers: [] }] };
    writeFileSync(`${top}/podbox-4242/cgroup.controllers`, 'cpuset cpu io memory pids\n');
    expect(findCgroupPlace({ PODBOX_CGROUP_PARENT: `${top}/podbox-4242` }, 4242, host)).toMatchObject({
      place: { version: 2, parent: '/podbox-4242' },
    });
    writeFileSync(`${top}/podbox-4242/cgroup.controllers`, 'memory pids\n');
    expect(findCgroupPlace({ PODBOX_CGROUP_PARENT: '/podbox-4242' }, 4242, host)).toEqual({
      why: `PODBOX_CGROUP_PARENT=/podbox-4242: controllers cpu are not delegated to ${top}/podbox-4242`,
    });
  });

  it('v2 rootless without a cgroup of its own that it may write: none', () => {
    const top = tree();
    const host: CgroupHost = { version: 2, list: [{ mount: top, controllers: [] }], ownV2: '/user.slice/x.scope' };
    expect(findCgroupPlace({}, 4242, host)).toEqual({
      why: 'no cgroup is delegated to you (cgroup v2; yours is /user.slice/x.scope)',
    });
  });
});
