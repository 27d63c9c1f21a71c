import { rmdirSync } from 'node:fs';
import type { Container, Pod } from '../api/types.js';
import { containerCgroupsPath } from '../container/oci-config.js';
import { containerId } from '../container/runc.js';
import { cgroupDir, cgroupHierarchies } from './where.js';
import { pollUntil } from '../host/poll.js';
import { containerOomKilled, podCgroupExists, removePodCgroup } from './pod-cgroup.js';
import type { PodLimits } from './pod-limits.js';

/**
 * What a pod's limits leave when a container or the pod ends: the OOM kill a container's cgroup
 * counted, and the pod's cgroups to remove.
 */

/** The container status reason for a container the memory limit killed (kuberuntime: ContainerStatus.Reason). */
export const OOM_KILLED = 'OOMKilled';

/**
 * The event said with it. The kubelet records none of its own for a container's OOM kill (the
 * reason is in the container's status); node-problem-detector's kernel monitor reports the
 * kernel's "Killed process" line as a Warning `OOMKilling` on the node (config/kernel-monitor.json).
 * podbox has no node object: it says the same on the pod, naming the container.
 */
export const OOM_EVENT = {
  reason: 'OOMKilling',
  message: (name: string, c: Container) =>
    `Memory cgroup out of memory: a process of container ${name} was killed` +
    (c.resources?.limits?.memory !== undefined ? ` (limits.memory ${c.resources.limits.memory})` : ''),
};

/** Whether the memory limit killed a process of this container instance (pod-cgroup.ts containerOomKilled). */
export function oomKilled(limits: PodLimits | undefined, runcId: string, killedBySigkill: boolean): boolean {
  if (!limits || !('cgroup' in limits)) return false;
  return containerOomKilled(limits.cgroup, runcId, killedBySigkill);
}

/**
 * Removes the pod's cgroups once its processes are gone (pause stopped: the kernel kills the rest,
 * which may take a moment to leave their cgroups). Bounded: what is left is said on stderr (the
 * supervisor's log), and `podbox delete` tries again.
 */
export async function removePodLimits(limits: PodLimits | undefined): Promise<void> {
  if (!limits || !('cgroup' in limits)) return;
  const cg = limits.cgroup;
  let left: string[] = [];
  await pollUntil(
    () => {
      left = removePodCgroup(cg);
      return left.length === 0 && !podCgroupExists(cg);
    },
    5000,
    20,
  );
  if (left.length > 0) process.stderr.write(`podbox: cannot remove cgroups ${left.join(', ')}: still in use\n`);
}

/**
 * As root where the pod's cgroup could not be made (PODBOX_CGROUP_PARENT not writable), each container
 * instance got a flat cgroup of its own (container/oci-config.ts containerCgroupsPath). runc's delete
 * removes one when its container exits, but not for the containers a pod's teardown stops: removed here
 * once pause is gone, every instance so far, in every hierarchy; bounded, as removePodLimits is.
 */
export async function removeFlatContainerCgroups(
  pod: Pod,
  containers: Record<string, { instance: number }>,
  limits: PodLimits | undefined,
): Promise<void> {
  if (process.getuid?.() !== 0 || (limits && 'cgroup' in limits)) return;
  const dirs: string[] = [];
  for (const h of cgroupHierarchies().list)
    for (const [name, c] of Object.entries(containers))
      for (let i = 0; i <= c.instance; i++) dirs.push(cgroupDir(h, containerCgroupsPath(pod, containerId(name, i))));
  let left = dirs;
  await pollUntil(
    () => {
      left = left.filter((d) => {
        try {
          rmdirSync(d);
          return false;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code !== 'ENOENT';
        }
      });
      return left.length === 0;
    },
    5000,
    20,
  );
  if (left.length > 0) process.stderr.write(`podbox: cannot remove cgroups ${left.join(', ')}: still in use\n`);
}
