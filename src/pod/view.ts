import { PodDir, podAlive, podsDir, type PodRecord, type PodState } from './dir.js';
import { releaseNetwork, stopStack, type PodNetwork } from '../sandbox/network.js';
import { removeTrees } from '../sandbox/userns.js';
import { removePodLimits } from '../cgroup/pod-exit.js';
import { alive } from '../host/proc.js';
import { POD_GENERATION, type PodStatus } from '../api/status.js';
import { HOST_IP } from '../api/node.js';

/**
 * What the commands other than `run` know of a pod: its record, its last state, and whether it is
 * alive (its pause process runs: pod/dir.ts podAlive). A pod outlives its supervisor: the next one
 * adopts it. A pod whose pause died while no supervisor ran (a reboot, a kill) is lost until a
 * supervisor records its end.
 */
export interface PodView {
  dir: PodDir;
  record: PodRecord;
  state?: PodState;
  alive: boolean;
}

export function view(dir: PodDir): PodView {
  const record = dir.record();
  const state = dir.state();
  return { dir, record, state, alive: podAlive(record, state) };
}

/** A pod whose processes are gone without its supervisor finishing it: it is lost. */
export function isLost(v: PodView): boolean {
  return !v.alive && !v.state?.runtime.finished;
}

/**
 * Cleans what a supervisor killed at the wrong moment left: lost pods of foreground runs (they were
 * to be removed anyway), pods whose supervisor died before the pod was created, and half-made
 * claims. The user's supervisor calls this when it starts, and commands that list pods before
 * they look. Returns how many pods are alive.
 */
export async function collectGarbage(): Promise<number> {
  let live = 0;
  for (const l of PodDir.leftovers()) if (!alive(l.pid)) await removeTrees([l.path]).catch(() => {});
  for (const d of PodDir.list()) {
    let v: PodView;
    try {
      v = view(d);
    } catch {
      continue;
    }
    if (v.alive) {
      live++;
      continue;
    }
    // A lost pod's network stack outlives pause (it holds the pod's network namespace): end it.
    if (isLost(v)) await releaseLostNetwork(v.state?.runtime.network);
    // ... and its cgroups, now empty.
    if (isLost(v)) await removePodLimits(v.state?.runtime.limits);
    if (v.record.removeWhenDone || !v.state?.runtime.created) await removeTrees([d.path]).catch(() => {});
  }
  return live;
}

/** Deletion requested and not finished (kubectl shows Terminating while deletionTimestamp is set). */
export function isTerminating(v: PodView): boolean {
  return v.alive && !v.state?.runtime.finished && v.dir.deleteRequest() !== undefined;
}

/** The status to show: a pod whose supervisor died unexpectedly is Unknown. */
export function statusOf(v: PodView): PodStatus {
  const s: PodStatus = v.state?.status ?? {
    phase: 'Pending',
    conditions: [],
    hostIP: HOST_IP,
    containerStatuses: [],
    qosClass: 'BestEffort',
  };
  if (isLost(v)) {
    return {
      ...s,
      phase: 'Unknown',
      reason: 'SandboxLost',
      message: "the pod's pause process died while no podbox supervisor ran; its containers died with it",
    };
  }
  return s;
}

/** The Kubernetes Pod object of `get -o json|yaml`: the spec as given plus the status. */
export function podObject(v: PodView): Record<string, unknown> {
  const original = (v.record.original ?? {}) as { metadata?: Record<string, unknown>; spec?: unknown };
  const pod = v.record.pod;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(original.metadata ?? {}),
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      uid: pod.metadata.uid,
      generation: POD_GENERATION,
      creationTimestamp: v.record.createdAt.replace(/\.\d{3}Z$/, 'Z'),
    },
    spec: original.spec ?? pod.spec,
    status: statusOf(v),
  };
}

async function releaseLostNetwork(net: PodNetwork | undefined): Promise<void> {
  await stopStack(net);
  releaseNetwork(podsDir(), net);
}
