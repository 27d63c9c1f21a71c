import type { PodStatus } from '../api/status.js';

/**
 * Where a pod's cgroups go under the parent podbox was given (cgroup/where.ts), as the kubelet's
 * cgroupfs driver lays them out, as paths inside a hierarchy (the same in every v1 controller's
 * hierarchy and in the v2 one):
 *
 *   PARENT/kubepods                        Guaranteed pods   (cm/qos_container_manager_linux.go Start:
 *   PARENT/kubepods/burstable              Burstable pods     one cgroup per QoS class under the node's)
 *   PARENT/kubepods/besteffort             BestEffort pods
 *          .../pod<UID>                    the pod           (cm/pod_container_manager_linux.go GetPodContainerName)
 *          .../pod<UID>/pause              the sandbox's pause, as containerd gives the sandbox its own
 *                                          cgroup under the pod's (v2 allows no process beside child cgroups)
 *          .../pod<UID>/<NAME>.<INSTANCE>  each container instance (runc's cgroupsPath, runc creates it)
 */

const KUBEPODS = 'kubepods';
const PAUSE = 'pause';

/** The QoS level of a pod's cgroup below PARENT/kubepods: none for Guaranteed (qos_container_manager_linux.go). */
export function qosLevel(qos: PodStatus['qosClass']): string | undefined {
  if (qos === 'Burstable') return 'burstable';
  if (qos === 'BestEffort') return 'besteffort';
  return undefined;
}

/** Paths inside a hierarchy, always starting with '/', never ending with one. */
function join(...parts: (string | undefined)[]): string {
  const segs = parts.flatMap((p) => (p ?? '').split('/')).filter((s) => s !== '' && s !== '.');
  return `/${segs.join('/')}`;
}

export interface PodCgroupPaths {
  /** the levels above the pod that podbox makes when missing, outermost first (kubepods, its QoS level) */
  shared: string[];
  pod: string;
  pause: string;
}

export function podCgroupPaths(parent: string, qos: PodStatus['qosClass'], podUid: string): PodCgroupPaths {
  const kubepods = join(parent, KUBEPODS);
  const level = qosLevel(qos);
  const shared = level ? [kubepods, join(kubepods, level)] : [kubepods];
  const pod = join(shared[shared.length - 1], `pod${podUid}`);
  return { shared, pod, pause: join(pod, PAUSE) };
}

/** A container instance's cgroup: runc's cgroupsPath, under its pod's. */
export function containerCgroupPath(podPath: string, runcId: string): string {
  return join(podPath, runcId);
}
