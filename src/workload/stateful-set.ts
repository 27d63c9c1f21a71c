import type { ObservedPod, Reconciled, WorkloadAction, WorkloadController } from './controller.js';
import type { StatefulSet } from './apps-schema.js';
import type { Volume } from '../api/types.js';
import { ReadyTimes, isTerminal, withoutZeros } from './availability.js';
import { controllerRef, podFromTemplate } from './owned-pod.js';
import { claimName, computeHash, controllerRevisionName, statefulOrdinal, statefulPodName } from './naming.js';
import { selectorMatches } from './label-selector.js';

type Event = NonNullable<Reconciled['events']>[number];

/** The labels the StatefulSet controller sets on each pod (apps/v1 types.go). */
export const STATEFULSET_POD_NAME = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX = 'apps.kubernetes.io/pod-index';
/** apps/v1 ControllerRevisionHashLabelKey: which revision of the template made the pod. */
export const CONTROLLER_REVISION_HASH = 'controller-revision-hash';

/**
 * An apps/v1 StatefulSet: pods NAME-0..NAME-(N-1) (from ordinals.start), each with a stable name,
 * hostname and claims. Each reconcile is one round of
 * pkg/controller/statefulset/stateful_set_control.go updateStatefulSet:
 *  1. the ordinals in range, lowest first: a Failed or Succeeded pod is deleted (it is made again
 *     with the same name once it is gone); a missing pod is created; under OrderedReady
 *     (monotonic) the round stops at the first pod made, deleted, terminating, or not Running and
 *     Ready, so ordinal i starts only when 0..i-1 are Running and Ready; Parallel goes on;
 *  2. the ordinals out of range (scaled down), highest first, one at a time under OrderedReady
 *     and only once every pod in range is Running and Ready;
 *  3. RollingUpdate: once all that is done, the highest pod (down to the partition) made from an
 *     older template is deleted, one at a time, each waiting for the one before to be Running and
 *     Ready again (updateStrategy OnDelete: pods change only when deleted);
 *  4. status (computeReplicaStatus).
 */
export class StatefulSetController implements WorkloadController {
  readonly kind = 'StatefulSet';
  readonly name: string;
  private object: StatefulSet;
  private readonly ready = new ReadyTimes();

  constructor(object: StatefulSet) {
    this.object = object;
    this.name = object.metadata.name;
  }

  /** The StatefulSet was edited: the next reconciles roll its pods to the new template. */
  update(object: StatefulSet): void {
    this.object = object;
  }

  /** The controller-revision-hash label value of the current template ("NAME-HASH"). */
  updateRevision(): string {
    return controllerRevisionName(this.object.metadata.name, computeHash(this.object.spec.template));
  }

  reconcile(pods: readonly ObservedPod[], now: number): Reconciled {
    const set = this.object;
    const name = set.metadata.name;
    this.ready.observe(pods, now);
    const monotonic = set.spec.podManagementPolicy === 'OrderedReady';
    const start = set.spec.ordinals?.start ?? 0;
    const end = start + set.spec.replicas;
    const revision = this.updateRevision();
    const byOrdinal = new Map<number, ObservedPod>();
    for (const p of pods) {
      const ord = statefulOrdinal(name, p.name);
      if (ord !== undefined && selectorMatches(set.spec.selector, p.labels)) byOrdinal.set(ord, p);
    }
    const healthy = (p: ObservedPod) =>
      p.phase === 'Running' && !p.terminating && this.ready.available(p, set.spec.minReadySeconds, now);
    const actions: WorkloadAction[] = [];
    const events: Event[] = [];
    const del = (p: ObservedPod, why: string) => {
      actions.push({ delete: p.name, reason: why });
      events.push({
        type: 'Normal',
        reason: 'SuccessfulDelete',
        message: `delete Pod ${p.name} in StatefulSet ${name} successful`,
      });
    };

    let wait = false;
    // Step 1: the ordinals in range, lowest first.
    for (let ord = start; ord < end && !wait; ord++) {
      const p = byOrdinal.get(ord);
      if (p && isTerminal(p)) {
        if (!p.terminating) {
          events.push(
            p.phase === 'Failed'
              ? {
                  type: 'Warning',
                  reason: 'RecreatingFailedPod',
                  message: `StatefulSet ${set.metadata.namespace}/${name} is recreating failed Pod ${p.name}`,
                }
              : {
                  type: 'Normal',
                  reason: 'RecreatingTerminatedPod',
                  message: `StatefulSet ${set.metadata.namespace}/${name} is recreating terminated Pod ${p.name}`,
                },
          );
          del(p, `${p.phase}: made again with the same name`);
        }
        wait = monotonic;
        continue;
      }
      if (!p) {
        actions.push({ create: this.podFor(ord, revision) });
        events.push({
          type: 'Normal',
          reason: 'SuccessfulCreate',
          message: `create Pod ${statefulPodName(name, ord)} in StatefulSet ${name} successful`,
        });
        wait = monotonic;
        continue;
      }
      if (monotonic && !healthy(p)) wait = true;
    }
    // Step 2: scale down, highest first.
    const condemned = [...byOrdinal.keys()].filter((o) => o < start || o >= end).sort((a, b) => b - a);
    for (const ord of condemned) {
      if (wait) break;
      const p = byOrdinal.get(ord)!;
      if (p.terminating) {
        wait = monotonic;
        continue;
      }
      del(p, 'scaled down');
      wait = monotonic;
    }
    // Step 3: rolling update, highest first, down to the partition.
    if (!wait && set.spec.updateStrategy.type === 'RollingUpdate') {
      const partition = start + (set.spec.updateStrategy.rollingUpdate?.partition ?? 0);
      for (let ord = end - 1; ord >= partition; ord--) {
        const p = byOrdinal.get(ord);
        if (!p) continue;
        if (p.labels[CONTROLLER_REVISION_HASH] !== revision && !p.terminating) {
          del(p, `rolling update to revision ${revision}`);
          break;
        }
        if (!healthy(p)) break;
      }
    }

    // Step 4: status (computeReplicaStatus).
    const all = [...byOrdinal.values()];
    const updated = all.filter((p) => p.labels[CONTROLLER_REVISION_HASH] === revision);
    const current = all.find((p) => p.labels[CONTROLLER_REVISION_HASH] !== revision)?.labels[CONTROLLER_REVISION_HASH];
    const currentRevision = current ?? revision;
    const status = withoutZeros(
      {
        observedGeneration: 1,
        replicas: all.filter((p) => !p.terminating).length,
        readyReplicas: all.filter((p) => p.ready).length,
        currentReplicas: all.filter((p) => p.labels[CONTROLLER_REVISION_HASH] === currentRevision).length,
        updatedReplicas: updated.length,
        currentRevision,
        updateRevision: revision,
        collisionCount: 0,
        availableReplicas: all.filter((p) => this.ready.available(p, set.spec.minReadySeconds, now)).length,
      },
      ['replicas', 'availableReplicas', 'collisionCount', 'observedGeneration'],
    );
    const wakeAt = this.ready.nextAvailableAt(all, set.spec.minReadySeconds, now);
    return { actions, status, events, ...(wakeAt !== undefined ? { wakeAt } : {}) };
  }

  /**
   * newVersionedStatefulSetPod: the template, the name NAME-ORDINAL, the identity labels
   * (stateful_set_utils.go updateIdentity: pod-name, pod-index; hostname = the pod's name,
   * subdomain = serviceName) and the claims (updateStorage: volume TEMPLATE → claim
   * TEMPLATE-NAME-ORDINAL, which podbox makes a named volume: volume/claim.ts).
   */
  podFor(ordinal: number, revision = this.updateRevision()) {
    const set = this.object;
    const podName = statefulPodName(set.metadata.name, ordinal);
    const volumes: Volume[] = (set.spec.volumeClaimTemplates ?? []).map((t) => ({
      name: t.metadata.name,
      persistentVolumeClaim: { claimName: claimName(t.metadata.name, podName) },
    }));
    return podFromTemplate(set.spec.template, {
      name: podName,
      namespace: set.metadata.namespace,
      owner: controllerRef('StatefulSet', set.metadata.name, set.metadata.uid),
      labels: {
        [CONTROLLER_REVISION_HASH]: revision,
        [STATEFULSET_POD_NAME]: podName,
        [POD_INDEX]: String(ordinal),
      },
      hostname: podName,
      ...(set.spec.serviceName ? { subdomain: set.spec.serviceName } : {}),
      volumes,
    });
  }
}
