import { readFileSync, writeFileSync } from 'node:fs';
import type { Container, Pod } from '../api/types.js';
import { quantityValue } from '../api/quantity.js';
import { qosClass } from '../lifecycle/pod-machine.js';

/**
 * The kernel's OOM killer picks the process with the highest badness, which `oom_score_adj` (-1000..1000)
 * shifts. The kubelet sets it per container from the pod's QoS class (pkg/kubelet/qos/policy.go
 * GetContainerOOMScoreAdjust, https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
 * #node-out-of-memory-behavior), and containerd's CRI gives the sandbox (pause) -998
 * (pkg/cri DefaultSandboxOOMAdj).
 */
const GUARANTEED = -997;
const BEST_EFFORT = 1000;
export const SANDBOX_OOM_SCORE_ADJ = -998;
/** A container without a memory request counts as requesting this much when a sidecar is compared
 * with the regular containers (pkg/scheduler/util DefaultMemoryRequest, 200 MB). */
const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** The oom_score_adj the kubelet gives `container` of `pod` on a node with `memoryCapacity` bytes. */
export function containerOomScoreAdj(pod: Pod, container: Container, memoryCapacity: number): number {
  // Node-critical pods (priorityClassName system-node-critical) are treated as Guaranteed.
  if (pod.spec.priorityClassName === 'system-node-critical') return GUARANTEED;
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return GUARANTEED;
  if (qos === 'BestEffort') return BEST_EFFORT;
  // Burstable: a container asking for 10% of the node's memory gets 900.
  const request = memoryRequest(container);
  let adj = 1000 - Math.trunc((1000 * request) / memoryCapacity);
  if (isSidecar(pod, container)) {
    // A sidecar is scored as the smallest of itself and the regular containers, plus one when it asks
    // no less than them, so it is killed before the app it serves (KEP-753).
    const regular = pod.spec.containers.map((c) => memoryRequest(c) || DEFAULT_MEMORY_REQUEST);
    const least = Math.min(request || DEFAULT_MEMORY_REQUEST, ...regular);
    adj = 1000 - Math.trunc((1000 * least) / memoryCapacity);
    if (least <= request) adj += 1;
  }
  // Burstable stays above Guaranteed and below BestEffort.
  if (adj < 1000 + GUARANTEED) return 1000 + GUARANTEED;
  if (adj === BEST_EFFORT) return BEST_EFFORT - 1;
  return adj;
}

function memoryRequest(c: Container): number {
  return quantityValue(c.resources?.requests?.memory ?? 0) ?? 0;
}

function isSidecar(pod: Pod, c: Container): boolean {
  return (pod.spec.initContainers ?? []).some((i) => i.name === c.name) && c.restartPolicy === 'Always';
}

/**
 * The kubelet runs at -999 (pkg/kubelet/qos/policy.go KubeletOOMScoreAdj); podbox's supervisor, the
 * kubelet here, does the same as root. It matters beyond the supervisor itself: runc runs inside the
 * pod's user namespace, where it lacks CAP_SYS_RESOURCE even as root, so it may only set a value at or
 * above the floor it inherits (the kernel's oom_score_adj_min, which a privileged write sets). From -999
 * it can give Guaranteed containers their -997.
 */
export function protectSupervisorFromOom(): void {
  if (process.getuid?.() !== 0) return;
  try {
    writeFileSync('/proc/self/oom_score_adj', String(SUPERVISOR_OOM_SCORE_ADJ));
  } catch {
    /* a kernel without it: containers then get at least the supervisor's value */
  }
}
const SUPERVISOR_OOM_SCORE_ADJ = -999;

/**
 * What runc may give: a process without CAP_SYS_RESOURCE (rootless, or runc inside the pod's user
 * namespace) can only set oom_score_adj at or above the value it inherited from the supervisor, so the
 * kubelet's value is raised to that floor, as podman clamps `--oom-score-adj` rootless.
 */
export function allowedOomScoreAdj(wanted: number, floor = ownOomScoreAdj()): number {
  return Math.max(wanted, floor);
}

function ownOomScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
