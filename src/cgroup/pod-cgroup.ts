import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { cgroupDir, CONTROLLERS, type CgroupPlace, type Hierarchy } from './where.js';
import { containerCgroupPath, type PodCgroupPaths } from './layout.js';
import type { CgroupFileValue } from './values.js';

/**
 * A pod's cgroups on the machine: made when its sandbox is (pod_container_manager_linux.go
 * EnsureExists), removed with it (Destroy), on every exit path. What a pod's runtime state keeps
 * of them, so that a successor supervisor or `podbox delete` removes the same ones.
 */
export interface PodCgroup {
  version: 1 | 2;
  hierarchies: Hierarchy[];
  /** the levels above the pod shared with other pods (kubepods, its QoS level), outermost first */
  shared: string[];
  pod: string;
  pause: string;
}

/**
 * Makes the pod's cgroup and its pause leaf in every hierarchy, writes the pod's values and moves
 * pause there. Throws with the file that failed; whatever it made is then removed again.
 */
export function createPodCgroup(
  place: CgroupPlace,
  paths: PodCgroupPaths,
  files: CgroupFileValue[],
  pausePid: number,
): PodCgroup {
  const cg: PodCgroup = { version: place.version, hierarchies: place.hierarchies, ...paths };
  try {
    for (const h of made(place.hierarchies)) {
      // v2: a controller is usable in a cgroup only when its parent enables it in cgroup.subtree_control.
      let above = place.parent;
      for (const p of [...paths.shared, paths.pod, paths.pause]) {
        if (place.version === 2) enableControllers(cgroupDir(h, above));
        makeCgroup(h, p, above);
        above = p;
      }
    }
    for (const f of files) writeCgroupFile(fileDir(cg, f.controller, paths.pod), f.file, f.value);
    // The sandbox in the pod's cgroup, as the kubelet makes the sandbox with the pod cgroup as its parent.
    for (const h of made(place.hierarchies))
      writeCgroupFile(cgroupDir(h, paths.pause), 'cgroup.procs', String(pausePid));
  } catch (e) {
    removePodCgroup(cg);
    throw e;
  }
  return cg;
}

/** The hierarchies podbox makes the pod's cgroups in (runc alone uses a hybrid machine's v2 one). */
const made = (list: Hierarchy[]) => list.filter((h) => !h.hybrid);

function enableControllers(dir: string): void {
  const enabled = readFileSync(`${dir}/cgroup.subtree_control`, 'utf8').trim().split(/\s+/);
  const missing = CONTROLLERS.filter((c) => !enabled.includes(c));
  if (missing.length > 0) writeCgroupFile(dir, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
}

/** mkdir of one level; a cpuset (v1) gets its parent's cpus and mems, without which no task may join it. */
function makeCgroup(h: Hierarchy, p: string, parent: string): void {
  const dir = cgroupDir(h, p);
  // Retried: another pod's removal of an empty shared level may race with this one's mkdir under it.
  for (let tries = 0; ; tries++) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') break;
      if (code !== 'ENOENT' || tries >= 3) throw e;
      makeCgroup(h, parent, parent.slice(0, parent.lastIndexOf('/')) || '/');
    }
  }
  if (!h.controllers.includes('cpuset')) return;
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    if (readFileSync(`${dir}/${f}`, 'utf8').trim() === '')
      writeCgroupFile(dir, f, readFileSync(`${cgroupDir(h, parent)}/${f}`, 'utf8').trim());
  }
}

function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    writeFileSync(`${dir}/${file}`, value);
  } catch (e) {
    throw new Error(`cannot write "${value}" to ${dir}/${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The directory holding a controller's files for cgroup path `p` (v2: the one hierarchy). */
function fileDir(cg: PodCgroup, controller: string, p: string): string {
  const h = cg.version === 2 ? cg.hierarchies[0] : cg.hierarchies.find((x) => x.controllers.includes(controller));
  if (!h) throw new Error(`no cgroup hierarchy has the ${controller} controller`);
  return cgroupDir(h, p);
}

/**
 * Removes the pod's cgroups, leaf first, in every hierarchy (a cgroup goes only once it has no
 * child and no task: its processes must be gone), then the shared levels it leaves empty.
 * Returns the directories that could not be removed.
 */
export function removePodCgroup(cg: PodCgroup): string[] {
  const left: string[] = [];
  for (const h of cg.hierarchies) {
    removeTree(cgroupDir(h, cg.pod), left);
    if (left.length > 0) continue;
    // Another pod's cgroup under a shared level keeps it (EBUSY): that is not a leak.
    for (const p of [...cg.shared].reverse()) {
      try {
        rmdirSync(cgroupDir(h, p));
      } catch {
        break;
      }
    }
  }
  return left;
}

function removeTree(dir: string, left: string[]): void {
  let children: string[];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return; // gone already
  }
  for (const c of children) removeTree(`${dir}/${c}`, left);
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
  }
}

/** Whether the pod's cgroup is still there (in any hierarchy). */
export function podCgroupExists(cg: PodCgroup): boolean {
  return cg.hierarchies.some((h) => existsSync(cgroupDir(h, cg.pod)));
}

/**
 * Whether the kernel's OOM killer killed a process of a container instance, read from its
 * cgroup before runc's delete removes it: v2 memory.events `oom_kill`; v1 memory.oom_control's
 * `oom_kill` (Linux 4.13+), or on older kernels memory.failcnt with the container killed by SIGKILL.
 * containerd's CRI reports OOMKilled from the same counter's event (the kernel's memcg OOM event).
 */
export function containerOomKilled(cg: PodCgroup, runcId: string, killedBySigkill: boolean): boolean {
  let dir: string;
  try {
    dir = fileDir(cg, 'memory', containerCgroupPath(cg.pod, runcId));
    statSync(dir);
  } catch {
    return false;
  }
  const counter = (file: string, key: string) => {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileOr(`${dir}/${file}`));
    return m ? Number(m[1]) : undefined;
  };
  if (cg.version === 2) return (counter('memory.events', 'oom_kill') ?? 0) > 0;
  const kills = counter('memory.oom_control', 'oom_kill');
  if (kills !== undefined) return kills > 0;
  return killedBySigkill && Number(readFileOr(`${dir}/memory.failcnt`).trim() || 0) > 0;
}

function readFileOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
