import { PodDir } from '../pod/dir.js';
import { isTerminating, statusOf, view, type PodView } from '../pod/view.js';
import type { ContainerStatus } from '../api/status.js';
import type { Pod } from '../api/types.js';
import type { ObservedPod } from './controller.js';
import type { KindBehaviour, WorkloadObject } from './object.js';
import { controllerUid } from './template.js';

/**
 * The pods a workload owns: those whose controller ownerReference names its uid, as
 * controller_ref_manager.go ClaimPods keeps the pods a controller owns (podbox has no orphans to
 * adopt: only a controller makes pods with an owner); or, for a kind that says (KindBehaviour.owns:
 * a Deployment's pods name its ReplicaSet), those it says are its.
 */
export function ownedPods(kind: Pick<KindBehaviour, 'owns'>, object: WorkloadObject): PodView[] {
  const owns = (pod: Pod) => (kind.owns ? kind.owns(object, pod.metadata) : controllerUid(pod) === object.metadata.uid);
  const out: PodView[] = [];
  for (const d of PodDir.list()) {
    try {
      const v = view(d);
      if (owns(v.record.pod)) out.push(v);
    } catch {
      // a pod being created or deleted meanwhile
    }
  }
  return out;
}

/** What a controller is told of one of its pods (controller.ts ObservedPod), from its status. */
export function observedPod(v: PodView, deleting: boolean): ObservedPod {
  const s = statusOf(v);
  const meta = v.record.pod.metadata;
  const terminated = (c: ContainerStatus, init: boolean) =>
    'terminated' in c.state
      ? [{ container: c.name, init, exitCode: c.state.terminated.exitCode, reason: c.state.terminated.reason }]
      : [];
  const all = [...(s.initContainerStatuses ?? []), ...s.containerStatuses];
  return {
    name: meta.name,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    phase: s.phase,
    ready: s.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    created: Date.parse(v.record.createdAt),
    terminating: deleting || isTerminating(v),
    terminated: [
      ...(s.initContainerStatuses ?? []).flatMap((c) => terminated(c, true)),
      ...s.containerStatuses.flatMap((c) => terminated(c, false)),
    ],
    restarts: all.reduce((n, c) => n + c.restartCount, 0),
  };
}
