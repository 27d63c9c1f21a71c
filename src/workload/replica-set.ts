import type { ObservedPod, Reconciled, WorkloadAction, WorkloadController } from './controller.js';
import type { PodTemplate, ReplicaSet } from './apps-schema.js';
import { ReadyTimes, isActive, isTerminal, withoutZeros } from './availability.js';
import { controllerRef, podFromTemplate, type OwnerReference } from './owned-pod.js';
import { cryptoRandom, generateName, podsPrefix, type RandomIndex } from './naming.js';
import { selectorMatches } from './label-selector.js';

type Event = NonNullable<Reconciled['events']>[number];

/** One set of identical pods kept at a count: a ReplicaSet, or one of a Deployment's (one per template hash). */
export interface ReplicaPool {
  name: string;
  namespace: string;
  owner: OwnerReference;
  /** the template its pods are made from (a Deployment's carries the pod-template-hash label) */
  template: PodTemplate;
  /** spec.replicas */
  replicas: number;
  minReadySeconds: number;
}

export interface PoolSync {
  actions: WorkloadAction[];
  events: Event[];
  /** the ReplicaSet's .status, from the pods as observed (before the actions): calculateStatus */
  status: { replicas: number; fullyLabeledReplicas: number; readyReplicas: number; availableReplicas: number };
  wakeAt?: number;
}

/**
 * One round of pkg/controller/replicaset/replica_set.go syncReplicaSet for a pool's pods:
 *  1. terminal pods (Failed, Succeeded) are deleted: they are not active, so a replacement is made
 *     for each (manageReplicas counts only FilterActivePods); a cluster leaves them to the pod
 *     garbage collector (pkg/controller/podgc gcTerminated), but one machine should not keep dead pods;
 *  2. manageReplicas: too few active pods → create the difference (all at once: slowStartBatch only
 *     spreads API calls, and podbox's host creates pods one by one anyway); too many → delete the
 *     surplus, in getPodsToDelete's order;
 *  3. the status, counted from the pods as observed (calculateStatus).
 * `names` holds every pod name in use, so a generated name never repeats one.
 */
export function syncPool(
  pool: ReplicaPool,
  pods: readonly ObservedPod[],
  ready: ReadyTimes,
  now: number,
  random: RandomIndex,
  names: Set<string>,
): PoolSync {
  const actions: WorkloadAction[] = [];
  const events: Event[] = [];
  // Step 1: terminal pods go.
  for (const p of pods.filter((p) => isTerminal(p) && !p.terminating)) {
    actions.push({ delete: p.name, reason: `Deleted pod: ${p.name} (${p.phase}; replaced)` });
    events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.name}` });
  }
  // Step 2: manageReplicas.
  const active = pods.filter(isActive);
  const diff = active.length - pool.replicas;
  if (diff < 0) {
    for (let i = 0; i < -diff; i++) {
      let name: string;
      do name = generateName(podsPrefix(pool.name), random);
      while (names.has(name));
      names.add(name);
      const pod = podFromTemplate(pool.template, { name, namespace: pool.namespace, owner: pool.owner });
      actions.push({ create: pod });
      events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `Created pod: ${name}` });
    }
  } else if (diff > 0) {
    for (const p of podsToDelete(active, diff, ready)) {
      actions.push({ delete: p.name, reason: `Deleted pod: ${p.name} (scaled down)` });
      events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.name}` });
    }
  }
  // Step 3: calculateStatus.
  const labels = pool.template.metadata.labels ?? {};
  const status = {
    replicas: active.length,
    fullyLabeledReplicas: active.filter((p) => selectorMatches({ matchLabels: labels }, p.labels)).length,
    readyReplicas: active.filter((p) => p.ready).length,
    availableReplicas: active.filter((p) => ready.available(p, pool.minReadySeconds, now)).length,
  };
  const wakeAt = ready.nextAvailableAt(active, pool.minReadySeconds, now);
  return { actions, events, status, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/**
 * getPodsToDelete: the `n` pods to remove first, in controller.ActivePods order (controller_utils.go
 * ActivePods.Less): Pending before Unknown before Running; not ready before ready; ready for less
 * time before ready for longer; newer before older. (Unscheduled first and more restarts first
 * need facts one node or ObservedPod lack: every pod is scheduled here.)
 */
export function podsToDelete(active: readonly ObservedPod[], n: number, ready: ReadyTimes): ObservedPod[] {
  const phaseRank = (p: ObservedPod) => (p.phase === 'Pending' ? 0 : p.phase === 'Unknown' ? 1 : 2);
  const sorted = [...active].sort((a, b) => {
    if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
    if (a.ready !== b.ready) return a.ready ? 1 : -1;
    const ra = ready.readySince(a);
    const rb = ready.readySince(b);
    if (ra !== undefined && rb !== undefined && ra !== rb) return rb - ra;
    if (a.created !== b.created) return b.created - a.created;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return sorted.slice(0, n);
}

export interface ControllerOptions {
  /** random choices for generated names; tests inject a fixed sequence */
  random?: RandomIndex;
}

/** A standalone apps/v1 ReplicaSet: its pods are "NAME-RAND5". */
export class ReplicaSetController implements WorkloadController {
  readonly kind = 'ReplicaSet';
  readonly name: string;
  private readonly ready = new ReadyTimes();
  private readonly random: RandomIndex;

  private object: ReplicaSet;

  constructor(object: ReplicaSet, options: ControllerOptions = {}) {
    this.object = object;
    this.name = object.metadata.name;
    this.random = options.random ?? cryptoRandom;
  }

  /**
   * The ReplicaSet was edited: `replicas` applies at the next reconcile; a new template only to pods
   * made from now on (a ReplicaSet never replaces its pods for a template change, replica_set.go).
   */
  update(object: ReplicaSet): void {
    this.object = object;
  }

  reconcile(pods: readonly ObservedPod[], now: number): Reconciled {
    const rs = this.object;
    this.ready.observe(pods, now);
    const pool: ReplicaPool = {
      name: rs.metadata.name,
      namespace: rs.metadata.namespace,
      owner: controllerRef('ReplicaSet', rs.metadata.name, rs.metadata.uid),
      template: rs.spec.template,
      replicas: rs.spec.replicas,
      minReadySeconds: rs.spec.minReadySeconds,
    };
    const owned = pods.filter((p) => selectorMatches(rs.spec.selector, p.labels));
    const sync = syncPool(pool, owned, this.ready, now, this.random, new Set(pods.map((p) => p.name)));
    return {
      actions: sync.actions,
      events: sync.events,
      status: replicaSetStatus(sync.status),
      ...(sync.wakeAt !== undefined ? { wakeAt: sync.wakeAt } : {}),
    };
  }
}

/** A ReplicaSet's .status as the API returns it (omitempty counters left out when 0; replicas always). */
export function replicaSetStatus(s: PoolSync['status']): Record<string, unknown> {
  return withoutZeros({ ...s, observedGeneration: 1 }, ['replicas']);
}
