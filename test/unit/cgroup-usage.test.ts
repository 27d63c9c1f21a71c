import { describe, it, expect } from 'vitest';
import { cgroupDirs } from '../../src/cgroup/process-cgroup.js';
import { statField, workingSet } from '../../src/cgroup/usage.js';
import { topTable } from '../../src/cli/top.js';

const HYBRID_MOUNTS = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  // a container's view: only a subtree of the memory hierarchy is mounted
  '34 30 0:31 /outer/ctr /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('a process’s cgroup directories (/proc/PID/cgroup + mountinfo)', () => {
  it('v1 hierarchies by controller, under the part of the hierarchy that is mounted; v2 apart', () => {
    const d = cgroupDirs(
      ['4:memory:/outer/ctr/kubepods/pod1/app', '2:cpu,cpuacct:/kubepods/pod1/app', '0::/kubepods/pod1/app'].join('\n'),
      HYBRID_MOUNTS,
    );
    expect(d.v1.get('memory')).toBe('/sys/fs/cgroup/memory/kubepods/pod1/app');
    expect(d.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/app');
    expect(d.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/app');
    expect(d.v2).toBe('/sys/fs/cgroup/unified/kubepods/pod1/app');
  });

  it('a cgroup outside the mounted subtree has no directory here', () => {
    const d = cgroupDirs('4:memory:/elsewhere/app', HYBRID_MOUNTS);
    expect(d.v1.has('memory')).toBe(false);
  });

  it('pure v2', () => {
    const d = cgroupDirs('0::/user.slice/user-1000.slice/pod\n', '25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
    expect(d).toEqual({ v1: new Map(), v2: '/sys/fs/cgroup/user.slice/user-1000.slice/pod' });
  });
});

describe('usage numbers', () => {
  it('memory.stat / cpu.stat fields, and the working set', () => {
    const stat = 'cache 8192\ninactive_file 4096\ntotal_inactive_file 12288\n';
    expect(statField(stat, 'inactive_file')).toBe(4096);
    expect(statField(stat, 'total_inactive_file')).toBe(12288);
    expect(statField(stat, 'absent')).toBe(0);
    expect(workingSet(10_000_000, 4096)).toBe(9_995_904);
    expect(workingSet(100, 4096)).toBe(0);
  });

  it('kubectl top’s table: pods summed, or one line per container; millicores and MiB truncated', () => {
    const rows = [
      { pod: 'web', container: 'app', milliCpu: 250, memoryBytes: 5 * 1024 * 1024 + 1 },
      { pod: 'web', container: 'log', milliCpu: 1, memoryBytes: 1024 * 1024 - 1 },
      { pod: 'db', container: 'pg', milliCpu: 3, memoryBytes: 40 * 1024 * 1024 },
    ];
    expect(topTable(rows, { containers: false, headers: true })).toBe(
      ['NAME   CPU(cores)   MEMORY(bytes)', 'web    251m         6Mi', 'db     3m           40Mi', ''].join('\n'),
    );
    expect(topTable(rows, { containers: true, headers: false, sortBy: 'memory' })).toBe(
      ['db    pg    3m     40Mi', 'web   app   250m   5Mi', 'web   log   1m     0Mi', ''].join('\n'),
    );
  });
});
