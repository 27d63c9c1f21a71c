import type { Container, Pod } from '../api/types.js';
import { PodboxError } from '../errors.js';
import { qosClass } from '../lifecycle/pod-machine.js';
import { podCgroupPaths } from './layout.js';
import { createPodCgroup, type PodCgroup } from './pod-cgroup.js';
import { askedLimits, containerResources, podCgroupValues, podFiles, type OciResources } from './values.js';
import { findCgroupPlace, swapAccounted, type CgroupEnv } from './where.js';

/**
 * A pod's resource limits, end to end: where its cgroups go (where.ts), how they are laid out
 * (layout.ts), what is written (values.ts), made and removed (pod-cgroup.ts). What the pod's
 * runtime state keeps: its cgroups, or why the limits it asks for are not enforced.
 */
export type PodLimits = { cgroup: PodCgroup; swapAccounted: boolean } | { notEnforced: string };

/** The settings that decide it (a pod's, from the command that made it: lifecycle/pod-settings.ts). */
export interface LimitsEnv extends CgroupEnv {
  PODBOX_POD_PIDS_LIMIT?: string;
}

/** PODBOX_POD_PIDS_LIMIT: the kubelet's podPidsLimit (a whole number of processes; unset or -1: none). */
export function podPidsLimit(env: LimitsEnv): number | undefined {
  const v = env.PODBOX_POD_PIDS_LIMIT;
  if (v === undefined || v === '' || v === '-1') return undefined;
  if (!/^[1-9][0-9]*$/.test(v))
    throw new PodboxError(
      'InvalidArgument',
      `PODBOX_POD_PIDS_LIMIT is "${v}", not a number of processes`,
      'set it to a whole number above 0, or unset it (no limit)',
    );
  return Number(v);
}

/**
 * The one line `podbox run` prints when the pod asks for limits that will not be enforced here,
 * naming them and why; undefined when every one is (or none is asked for).
 */
export function notEnforcedWarning(pod: Pod, env: LimitsEnv): string | undefined {
  const asked = askedLimits(pod, podPidsLimit(env));
  if (asked.length === 0) return undefined;
  const where = findCgroupPlace(env);
  if ('place' in where) return undefined;
  return (
    `warning: pod "${pod.metadata.name}": ${asked.join(', ')} not enforced: ${where.why} ` + '(see `podbox doctor`)'
  );
}

/**
 * Step "pod cgroup" of making a sandbox: the pod's cgroups with its values and pause in them, or
 * why not. Undefined for a pod that asks for no limit where no cgroup may be made (as before).
 */
export function setUpPodLimits(pod: Pod, env: LimitsEnv, pausePid: number): PodLimits | undefined {
  const pidsLimit = podPidsLimit(env);
  const where = findCgroupPlace(env);
  if (!('place' in where)) return askedLimits(pod, pidsLimit).length > 0 ? { notEnforced: where.why } : undefined;
  const { place } = where;
  const paths = podCgroupPaths(place.parent, qosClass(pod), pod.metadata.uid ?? pod.metadata.name);
  try {
    const files = podFiles(podCgroupValues(pod, pidsLimit), place.version);
    return { cgroup: createPodCgroup(place, paths, files, pausePid), swapAccounted: swapAccounted(place) };
  } catch (e) {
    return { notEnforced: `cannot make the pod's cgroup: ${(e as Error).message}` };
  }
}

/** A container's OCI linux.resources under its pod's limits; none where they are not enforced. */
export function containerLimits(limits: PodLimits | undefined, c: Container): OciResources | undefined {
  if (!limits || !('cgroup' in limits)) return undefined;
  return containerResources(c, limits.swapAccounted);
}

/**
 * The event for limits not enforced: the kubelet's when it cannot make a pod's cgroup (kubelet.go
 * SyncPod: pcm.EnsureExists failing is a Warning FailedCreatePodContainer), the pod running on.
 */
export function notEnforcedEvent(limits: PodLimits | undefined): { reason: string; message: string } | undefined {
  if (!limits || !('notEnforced' in limits)) return undefined;
  return {
    reason: 'FailedCreatePodContainer',
    message: `unable to ensure pod container exists: ${limits.notEnforced}; its limits are not enforced`,
  };
}
