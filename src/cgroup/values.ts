import type { Container, Pod } from '../api/types.js';
import { quantityValue } from '../api/quantity.js';
import { qosClass } from '../lifecycle/pod-machine.js';

/**
 * What the kubelet writes into cgroups for a pod and its containers, as numbers: pure, for cgroup
 * v1 and v2 alike (the files each version names them in are chosen by podFiles).
 */

// pkg/kubelet/cm/helpers_linux.go: the kubelet's constants.
const MIN_SHARES = 2;
const MAX_SHARES = 262144;
const SHARES_PER_CPU = 1024;
/** the CFS period the kubelet uses (cpu-cfs-quota-period's default), in microseconds */
export const CPU_PERIOD_US = 100_000;
const MIN_QUOTA_PERIOD = 1000;

/** helpers_linux.go MilliCPUToShares: a cpu request in millicores as cpu.shares. */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu === 0) return MIN_SHARES;
  const shares = Math.floor((milliCpu * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** helpers_linux.go MilliCPUToQuota: a cpu limit in millicores as a CFS quota for `period`; 0 is none. */
export function milliCpuToQuota(milliCpu: number, period = CPU_PERIOD_US): number {
  if (milliCpu === 0) return 0;
  return Math.max(MIN_QUOTA_PERIOD, Math.floor((milliCpu * period) / 1000));
}

/**
 * cpu.shares (v1) as cpu.weight (v2): runc's ConvertCPUSharesToCgroupV2Value (libcontainer/cgroups/utils.go),
 * which the kubelet's cgroup manager uses too: [2, 262144] onto [1, 10000].
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** A quantity's MilliValue (resource.Quantity rounds up), 0 when unset or not a quantity. */
function milli(q: string | number | undefined): number {
  return q === undefined ? 0 : Math.ceil((quantityValue(q) ?? 0) * 1000 - 1e-6);
}

/** A quantity's Value in whole units (rounded up), 0 when unset or not a quantity. */
function whole(q: string | number | undefined): number {
  return q === undefined ? 0 : Math.ceil((quantityValue(q) ?? 0) - 1e-9);
}

type Resources = Container['resources'];

/** A request as the API server defaults it: a limit stands in for a request left out. */
function requestOf(r: Resources, name: string): string | number | undefined {
  return r?.requests?.[name] ?? r?.limits?.[name];
}

/**
 * The OCI linux.resources of one container: kuberuntime_container_linux.go generateLinuxContainerResources
 * and calculateLinuxResources. The swap limit equals the memory limit (no swap) where the kernel accounts
 * swap, as the kubelet's NoSwap set-up does (configureContainerSwapResources: swapControllerAvailable).
 * Undefined when the container asks for nothing.
 */
export function containerResources(c: Container, swapAccounted: boolean): OciResources | undefined {
  const r = c.resources;
  const cpuLimit = milli(r?.limits?.cpu);
  const cpuRequest = milli(requestOf(r, 'cpu'));
  const memoryLimit = whole(r?.limits?.memory);
  if (cpuLimit === 0 && cpuRequest === 0 && memoryLimit === 0) return undefined;
  const out: OciResources = { cpu: { shares: milliCpuToShares(cpuRequest || cpuLimit) } };
  if (cpuLimit > 0) Object.assign(out.cpu!, { quota: milliCpuToQuota(cpuLimit), period: CPU_PERIOD_US });
  if (memoryLimit > 0) out.memory = { limit: memoryLimit, ...(swapAccounted ? { swap: memoryLimit } : {}) };
  return out;
}

export interface OciResources {
  memory?: { limit: number; swap?: number };
  cpu?: { shares: number; quota?: number; period?: number };
}

/** What the pod's own cgroup gets (the kubelet's ResourceConfig for a pod). */
export interface PodCgroupValues {
  cpuShares: number;
  /** with cpuPeriod; absent: no quota */
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimit?: number;
  pidsLimit?: number;
}

/**
 * A pod's total of one resource as resourcehelper PodRequests / PodLimits (k8s.io/component-helpers
 * resource/helpers.go) add it up: the app containers and the sidecars (restartable init containers)
 * together, or a regular init container with the sidecars started before it, whichever is more.
 */
function podTotal(pod: Pod, value: (c: Container) => number): number {
  let sidecars = 0;
  let initPeak = 0;
  for (const c of pod.spec.initContainers ?? []) {
    if (c.restartPolicy === 'Always') sidecars += value(c);
    else initPeak = Math.max(initPeak, sidecars + value(c));
  }
  const apps = pod.spec.containers.reduce((sum, c) => sum + value(c), 0);
  return Math.max(apps + sidecars, initPeak);
}

/**
 * The pod cgroup's values: pkg/kubelet/cm/helpers_linux.go ResourceConfigForPod. Guaranteed: shares,
 * quota and memory from the pod's totals; Burstable: shares, and a quota (a memory limit) only when
 * every container limits cpu (memory); BestEffort: the minimum shares. Pod-level `resources`
 * (Kubernetes 1.32+, PodLevelResources) stand for the totals and declare the limit they give.
 * The pids limit is the kubelet's podPidsLimit (pod_container_manager_linux.go EnsureExists).
 */
export function podCgroupValues(pod: Pod, pidsLimit?: number): PodCgroupValues {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const podLevel = pod.spec.resources;
  const total = (kind: 'requests' | 'limits', name: string, unit: (q?: string | number) => number) => {
    const given = kind === 'requests' ? requestOf(podLevel, name) : podLevel?.limits?.[name];
    if (given !== undefined) return unit(given);
    return podTotal(pod, (c) => unit(kind === 'requests' ? requestOf(c.resources, name) : c.resources?.limits?.[name]));
  };
  const declared = (name: string) =>
    podLevel?.limits?.[name] !== undefined || all.every((c) => c.resources?.limits?.[name] !== undefined);
  const qos = qosClass(pod);
  const out: PodCgroupValues = { cpuShares: MIN_SHARES };
  if (qos !== 'BestEffort') {
    out.cpuShares = milliCpuToShares(total('requests', 'cpu', milli));
    const cpuLimit = total('limits', 'cpu', milli);
    if ((qos === 'Guaranteed' || declared('cpu')) && cpuLimit > 0) {
      out.cpuQuota = milliCpuToQuota(cpuLimit);
      out.cpuPeriod = CPU_PERIOD_US;
    }
    const memoryLimit = total('limits', 'memory', whole);
    if ((qos === 'Guaranteed' || declared('memory')) && memoryLimit > 0) out.memoryLimit = memoryLimit;
  }
  if (pidsLimit !== undefined && pidsLimit > 0) out.pidsLimit = pidsLimit;
  return out;
}

/** One value to write: the controller's hierarchy (v1) it belongs to, the file, the text. */
export interface CgroupFileValue {
  controller: 'cpu' | 'memory' | 'pids';
  file: string;
  value: string;
}

/**
 * The pod cgroup's values as files: v1 as the kubelet's cgroupfs manager writes them (runc's fs
 * subsystems: cpu.shares, cpu.cfs_period_us before cpu.cfs_quota_us, memory.limit_in_bytes,
 * pids.max), v2 as runc's fs2 converts them (cpu.weight, cpu.max "QUOTA PERIOD", memory.max, pids.max).
 */
export function podFiles(v: PodCgroupValues, version: 1 | 2): CgroupFileValue[] {
  const out: CgroupFileValue[] = [];
  if (version === 1) {
    out.push({ controller: 'cpu', file: 'cpu.shares', value: String(v.cpuShares) });
    if (v.cpuQuota !== undefined) {
      out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(v.cpuPeriod ?? CPU_PERIOD_US) });
      out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(v.cpuQuota) });
    }
    if (v.memoryLimit !== undefined)
      out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(v.memoryLimit) });
  } else {
    out.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(v.cpuShares)) });
    if (v.cpuQuota !== undefined)
      out.push({ controller: 'cpu', file: 'cpu.max', value: `${v.cpuQuota} ${v.cpuPeriod ?? CPU_PERIOD_US}` });
    if (v.memoryLimit !== undefined)
      out.push({ controller: 'memory', file: 'memory.max', value: String(v.memoryLimit) });
  }
  if (v.pidsLimit !== undefined) out.push({ controller: 'pids', file: 'pids.max', value: String(v.pidsLimit) });
  return out;
}

const ASKED_ORDER = ['limits.cpu', 'limits.memory', 'requests.cpu', 'pids limit'];

/** The limits and requests a pod asks for (cpu, memory) and the pids limit, as named in a warning. */
export function askedLimits(pod: Pod, pidsLimit?: number): string[] {
  const asked = new Set<string>();
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  for (const r of [pod.spec.resources, ...all.map((c) => c.resources)]) {
    for (const name of ['cpu', 'memory']) {
      if (r?.limits?.[name] !== undefined) asked.add(`limits.${name}`);
      if (name === 'cpu' && r?.requests?.[name] !== undefined) asked.add('requests.cpu');
    }
  }
  if (pidsLimit !== undefined && pidsLimit > 0) asked.add('pids limit');
  return ASKED_ORDER.filter((n) => asked.has(n));
}
