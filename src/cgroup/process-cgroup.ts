import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a process's cgroups are, as this process sees them: /proc/PID/cgroup names the cgroup in each
 * hierarchy (relative to our cgroup namespace), /proc/self/mountinfo where each hierarchy is mounted and
 * which part of it (a container's /sys/fs/cgroup often shows only a subtree). Reading the kernel, not
 * runc's state file: whatever layout made the cgroups (cgroup/…, runc's defaults), this is where the
 * process really is.
 */
export interface ProcessCgroups {
  /** cgroup v1: controller → directory (cpu and cpuacct may share one) */
  v1: Map<string, string>;
  /** cgroup v2 (the unified hierarchy), when mounted */
  v2?: string;
}

export function processCgroups(pid: number | 'self'): ProcessCgroups | undefined {
  let cgroupText: string;
  let mountText: string;
  try {
    cgroupText = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    mountText = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined; // the process is gone
  }
  return cgroupDirs(cgroupText, mountText);
}

interface CgroupMount {
  /** the path inside the hierarchy that is mounted */
  root: string;
  mountPoint: string;
  /** v1 controllers of the hierarchy (from its super options), empty for v2 */
  controllers: string[];
  v2: boolean;
}

/** Pure: the directories of a /proc/PID/cgroup text, given /proc/self/mountinfo's. */
export function cgroupDirs(cgroupText: string, mountText: string): ProcessCgroups {
  const mounts = cgroupMounts(mountText);
  const out: ProcessCgroups = { v1: new Map() };
  for (const line of cgroupText.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, hierarchy, list, path] = m;
    const controllers = list!.split(',').filter(Boolean);
    if (hierarchy === '0' && controllers.length === 0) {
      const mount = mounts.find((x) => x.v2);
      const dir = mount && inside(mount, path!);
      if (dir) out.v2 = dir;
      continue;
    }
    const mount = mounts.find((x) => !x.v2 && controllers.every((c) => x.controllers.includes(c)));
    const dir = mount && inside(mount, path!);
    if (dir) for (const c of controllers) out.v1.set(c, dir);
  }
  return out;
}

function cgroupMounts(mountText: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountText.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, , superOptions] = post.split(' ');
    const decode = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (fstype === 'cgroup2') out.push({ root: decode(f[3]!), mountPoint: decode(f[4]!), controllers: [], v2: true });
    else if (fstype === 'cgroup') {
      const controllers = (superOptions ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro');
      out.push({ root: decode(f[3]!), mountPoint: decode(f[4]!), controllers, v2: false });
    }
  }
  return out;
}

/** The directory of cgroup `path` under `mount`, when the mount shows it. */
function inside(mount: CgroupMount, path: string): string | undefined {
  const root = mount.root === '/' ? '' : mount.root;
  if (path !== root && !path.startsWith(`${root}/`)) return undefined;
  return join(mount.mountPoint, path.slice(root.length));
}
