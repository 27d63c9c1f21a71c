import type { ObservedPod, Reconciled, WorkloadAction, WorkloadController } from './controller.js';
import type { Deployment, PodTemplate } from './apps-schema.js';
import { ReadyTimes, earliest, isTerminal, withoutZeros } from './availability.js';
import { controllerRef } from './owned-pod.js';
import { computeHash, cryptoRandom, derivedUid, replicaSetName, type RandomIndex } from './naming.js';
import { selectorMatches, type LabelSelector } from './label-selector.js';
import { replicaSetStatus, syncPool, type ControllerOptions, type PoolSync, type ReplicaPool } from './replica-set.js';

type Event = NonNullable<Reconciled['events']>[number];

/**
 * The label a Deployment puts on its ReplicaSets' selectors, templates and pods
 * (apps/v1 DefaultDeploymentUniqueLabelKey).
 */
export const POD_TEMPLATE_HASH = 'pod-template-hash';

/**
 * A Deployment's ReplicaSet, modelled inside the Deployment's controller: podbox stores no
 * ReplicaSet objects, so "a ReplicaSet" is a pool of pods keyed by their pod-template-hash label.
 * `template` is unknown for a pool found only through its pods (a template from before an edit, or
 * before a restart): such a pool can only shrink.
 */
interface OwnedReplicaSet {
  hash: string;
  name: string;
  replicas: number;
  template?: PodTemplate;
  /** when podbox first saw it (its creationTimestamp, for oldest-first scale-down and history) */
  created: number;
}

/**
 * One ReplicaSet as `podbox get replicasets` shows a Deployment's (tables.ts ListedReplicaSet):
 * spec.replicas, its status, its template and selector (both with the pod-template-hash label).
 */
export interface ReplicaSetView {
  name: string;
  hash: string;
  created: number;
  replicas: number;
  status: Record<string, unknown>;
  template: PodTemplate;
  selector: LabelSelector;
}

interface Condition {
  type: 'Available' | 'Progressing';
  status: 'True' | 'False';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/**
 * maxSurge and maxUnavailable as counts (deployment/util/deployment_util.go ResolveFenceposts):
 * a percentage of `desired`, surge rounded up and unavailable down; both 0 makes unavailable 1, so a
 * rollout can always move.
 */
export function resolveFenceposts(
  maxSurge: number | string,
  maxUnavailable: number | string,
  desired: number,
): { surge: number; unavailable: number } {
  const scaled = (v: number | string, up: boolean) =>
    typeof v === 'number'
      ? v
      : up
        ? Math.ceil((Number(v.slice(0, -1)) * desired) / 100)
        : Math.floor((Number(v.slice(0, -1)) * desired) / 100);
  const surge = scaled(maxSurge, true);
  const unavailable = scaled(maxUnavailable, false);
  return surge === 0 && unavailable === 0 ? { surge, unavailable: 1 } : { surge, unavailable };
}

/**
 * An apps/v1 Deployment: one ReplicaSet-equivalent per template hash, pods "NAME-HASH-RAND5".
 * Each reconcile is one round of pkg/controller/deployment/deployment_controller.go syncDeployment:
 *  1. find the pools: the current template's (created empty if new: getNewReplicaSet) and the old
 *     ones, from the pods' pod-template-hash labels (getOldReplicaSets);
 *  2. roll out: Recreate (recreate.go rolloutRecreate) or RollingUpdate (rolling.go rolloutRolling),
 *     which only changes the pools' replica counts; a paused Deployment only scales (sync.go sync);
 *  3. each pool syncs as a ReplicaSet (replicaset/replica_set.go): create or delete pods to its count,
 *     replace failed ones;
 *  4. old empty pools beyond revisionHistoryLimit are forgotten (sync.go cleanupDeployment);
 *  5. status and the Available/Progressing conditions (sync.go calculateStatus, progress.go syncRolloutStatus).
 * A changed template: give the controller the new object with update() (or build a new controller:
 * the old pools are then found from their pods).
 */
export class DeploymentController implements WorkloadController {
  readonly kind = 'Deployment';
  readonly name: string;
  private object: Deployment;
  private readonly ready = new ReadyTimes();
  private readonly random: RandomIndex;
  private readonly pools = new Map<string, OwnedReplicaSet>();
  private conditions: Condition[] = [];
  private lastProgress?: { updated: number; ready: number; available: number; old: number };
  private views: ReplicaSetView[] = [];

  constructor(object: Deployment, options: ControllerOptions = {}) {
    this.object = object;
    this.name = object.metadata.name;
    this.random = options.random ?? cryptoRandom;
  }

  /** The Deployment was edited (a new file): the next reconcile rolls out its template. */
  update(object: Deployment): void {
    this.object = object;
  }

  /** The pod-template-hash of the current template. */
  templateHash(): string {
    return computeHash(this.object.spec.template);
  }

  /** The ReplicaSets as of the last reconcile, newest first (for `podbox get replicasets`). */
  replicaSets(): readonly ReplicaSetView[] {
    return this.views;
  }

  reconcile(pods: readonly ObservedPod[], now: number): Reconciled {
    const d = this.object;
    const events: Event[] = [];
    this.ready.observe(pods, now);
    // Step 1: the pools.
    const owned = pods.filter((p) => selectorMatches(d.spec.selector, p.labels));
    const byHash = new Map<string, ObservedPod[]>();
    for (const p of owned) {
      const hash = p.labels[POD_TEMPLATE_HASH];
      if (hash !== undefined) byHash.set(hash, [...(byHash.get(hash) ?? []), p]);
    }
    const newHash = this.templateHash();
    const newName = replicaSetName(d.metadata.name, newHash);
    let created = false;
    if (!this.pools.has(newHash)) {
      const existing = byHash.get(newHash);
      const found = existing?.filter((p) => !isTerminal(p) && !p.terminating).length;
      const since = existing ? Math.min(...existing.map((p) => p.created)) : now;
      this.pools.set(newHash, { hash: newHash, name: newName, replicas: found ?? 0, created: since });
      created = found === undefined;
    }
    const newPool = this.pools.get(newHash)!;
    newPool.template = this.templateFor(newHash);
    for (const [hash, ps] of byHash) {
      if (this.pools.has(hash)) continue;
      const replicas = ps.filter((p) => !isTerminal(p) && !p.terminating).length;
      const since = Math.min(...ps.map((p) => p.created));
      this.pools.set(hash, { hash, name: replicaSetName(d.metadata.name, hash), replicas, created: since });
    }
    const olds = [...this.pools.values()].filter((p) => p.hash !== newHash).sort((a, b) => a.created - b.created);
    const counts = (pool: OwnedReplicaSet) => {
      const active = (byHash.get(pool.hash) ?? []).filter((p) => !isTerminal(p) && !p.terminating);
      return {
        active: active.length,
        available: active.filter((p) => this.ready.available(p, d.spec.minReadySeconds, now)).length,
      };
    };
    const scale = (pool: OwnedReplicaSet, to: number) => {
      if (to === pool.replicas) return;
      const how = to > pool.replicas ? 'up' : 'down';
      events.push({
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: `Scaled ${how} replica set ${pool.name} from ${pool.replicas} to ${to}`,
      });
      pool.replicas = to;
    };

    // Step 2: roll out.
    if (d.spec.paused) {
      if (olds.every((o) => o.replicas === 0)) scale(newPool, d.spec.replicas);
    } else if (d.spec.strategy.type === 'Recreate') {
      // rolloutRecreate: old pools to 0, wait until none of their pods runs, then the new pool to replicas.
      for (const o of olds) scale(o, 0);
      const oldRunning = olds.some((o) => (byHash.get(o.hash) ?? []).some((p) => !isTerminal(p)));
      if (!oldRunning) scale(newPool, d.spec.replicas);
    } else {
      this.rollingStep(newPool, olds, counts, scale);
    }

    // Step 3: each pool as a ReplicaSet.
    const actions: WorkloadAction[] = [];
    const names = new Set(pods.map((p) => p.name));
    const syncs = new Map<string, PoolSync>();
    let wakeAt: number | undefined;
    for (const pool of [newPool, ...olds]) {
      const ps = byHash.get(pool.hash) ?? [];
      if (!pool.template) pool.replicas = Math.min(pool.replicas, counts(pool).active);
      const template = pool.template ?? this.templateFor(pool.hash);
      const sync = syncPool(this.poolOf(pool, template), ps, this.ready, now, this.random, names);
      syncs.set(pool.hash, sync);
      actions.push(...sync.actions);
      events.push(...sync.events);
      wakeAt = earliest(wakeAt, sync.wakeAt);
    }

    // Step 4: history.
    const empty = olds.filter((o) => o.replicas === 0 && !byHash.has(o.hash));
    for (const o of empty.slice(0, Math.max(0, empty.length - d.spec.revisionHistoryLimit))) this.pools.delete(o.hash);

    // Step 5: status.
    const all = [...this.pools.values()];
    const sum = (f: (s: PoolSync['status']) => number) =>
      all.reduce((n, p) => n + (syncs.get(p.hash) ? f(syncs.get(p.hash)!.status) : 0), 0);
    const replicas = sum((s) => s.replicas);
    const updated = syncs.get(newHash)!.status.replicas;
    const readyReplicas = sum((s) => s.readyReplicas);
    const available = sum((s) => s.availableReplicas);
    const specTotal = all.reduce((n, p) => n + p.replicas, 0);
    const { unavailable: maxUnavailable } =
      d.spec.strategy.type === 'RollingUpdate'
        ? resolveFenceposts(
            d.spec.strategy.rollingUpdate!.maxSurge,
            d.spec.strategy.rollingUpdate!.maxUnavailable,
            d.spec.replicas,
          )
        : { unavailable: 0 };
    this.setCondition(
      now,
      available >= d.spec.replicas - maxUnavailable
        ? ['Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']
        : ['Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'],
    );
    const oldActive = olds.reduce((n, o) => n + (syncs.get(o.hash)?.status.replicas ?? 0), 0);
    const progress = { updated, ready: readyReplicas, available, old: oldActive };
    const complete =
      updated === d.spec.replicas && replicas === d.spec.replicas && available === d.spec.replicas && oldActive === 0;
    const moved =
      this.lastProgress === undefined ||
      progress.updated > this.lastProgress.updated ||
      progress.ready > this.lastProgress.ready ||
      progress.available > this.lastProgress.available ||
      progress.old < this.lastProgress.old;
    this.lastProgress = progress;
    const progressing = this.conditions.find((c) => c.type === 'Progressing');
    if (created) {
      this.setCondition(now, ['Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${newName}"`]);
    } else if (complete) {
      this.setCondition(now, [
        'Progressing',
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "${newName}" has successfully progressed.`,
      ]);
    } else if (moved || !progressing) {
      this.setCondition(now, ['Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${newName}" is progressing.`]);
    } else if (
      // DeploymentTimedOut: a rollout that completed never times out, nor one already timed out.
      progressing.reason !== 'ProgressDeadlineExceeded' &&
      progressing.reason !== 'NewReplicaSetAvailable' &&
      Date.parse(progressing.lastUpdateTime) + d.spec.progressDeadlineSeconds * 1000 <= now
    ) {
      this.setCondition(now, [
        'Progressing',
        'False',
        'ProgressDeadlineExceeded',
        `ReplicaSet "${newName}" has timed out progressing.`,
      ]);
      events.push({
        type: 'Warning',
        reason: 'ProgressDeadlineExceeded',
        message: `Deployment "${d.metadata.name}" has timed out progressing.`,
      });
    }
    const p = this.conditions.find((c) => c.type === 'Progressing')!;
    if (!complete && p.reason !== 'ProgressDeadlineExceeded' && p.reason !== 'NewReplicaSetAvailable')
      wakeAt = earliest(wakeAt, Date.parse(p.lastUpdateTime) + d.spec.progressDeadlineSeconds * 1000);

    this.views = [newPool, ...[...olds].reverse()]
      .filter((pool) => this.pools.has(pool.hash))
      .map((pool) => ({
        name: pool.name,
        hash: pool.hash,
        created: pool.created,
        replicas: pool.replicas,
        status: replicaSetStatus(syncs.get(pool.hash)!.status),
        template: pool.template ?? this.templateFor(pool.hash),
        selector: {
          ...d.spec.selector,
          matchLabels: { ...d.spec.selector.matchLabels, [POD_TEMPLATE_HASH]: pool.hash },
        },
      }));
    const status = withoutZeros(
      {
        observedGeneration: 1,
        replicas,
        updatedReplicas: updated,
        readyReplicas,
        availableReplicas: available,
        unavailableReplicas: Math.max(0, specTotal - available),
        conditions: this.conditions.map((c) => ({ ...c })),
      },
      ['observedGeneration'],
    );
    return { actions, status, events, ...(wakeAt !== undefined ? { wakeAt } : {}) };
  }

  /**
   * One round of rolling.go rolloutRolling: scale the new pool up (reconcileNewReplicaSet); if it did
   * not move, scale old pools down (reconcileOldReplicaSets: first their unavailable pods,
   * cleanupUnhealthyReplicas, then available ones down to minAvailable, oldest pool first).
   */
  private rollingStep(
    newPool: OwnedReplicaSet,
    olds: OwnedReplicaSet[],
    counts: (p: OwnedReplicaSet) => { active: number; available: number },
    scale: (p: OwnedReplicaSet, to: number) => void,
  ): void {
    const d = this.object;
    const desired = d.spec.replicas;
    const ru = d.spec.strategy.rollingUpdate!;
    const { surge, unavailable } = resolveFenceposts(ru.maxSurge, ru.maxUnavailable, desired);
    const all = [newPool, ...olds];
    const total = () => all.reduce((n, p) => n + p.replicas, 0);
    // reconcileNewReplicaSet / NewRSNewReplicas.
    if (newPool.replicas > desired) {
      scale(newPool, desired);
      return;
    }
    if (newPool.replicas < desired) {
      const room = desired + surge - total();
      if (room > 0) {
        scale(newPool, newPool.replicas + Math.min(room, desired - newPool.replicas));
        return;
      }
    }
    // reconcileOldReplicaSets.
    if (olds.every((o) => o.replicas === 0)) return;
    const minAvailable = desired - unavailable;
    const newUnavailable = newPool.replicas - counts(newPool).available;
    let maxScaledDown = total() - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return;
    // cleanupUnhealthyReplicas: old pools' pods that are not available go first.
    for (const o of olds) {
      if (maxScaledDown <= 0) break;
      const unhealthy = o.replicas - counts(o).available;
      if (o.replicas === 0 || unhealthy <= 0) continue;
      const down = Math.min(maxScaledDown, unhealthy);
      scale(o, o.replicas - down);
      maxScaledDown -= down;
    }
    // scaleDownOldReplicaSetsForRollingUpdate: available pods above minAvailable.
    const availableTotal = all.reduce((n, p) => n + Math.min(p.replicas, counts(p).available), 0);
    let toScaleDown = availableTotal - minAvailable;
    for (const o of olds) {
      if (toScaleDown <= 0) break;
      if (o.replicas === 0) continue;
      const down = Math.min(o.replicas, toScaleDown);
      scale(o, o.replicas - down);
      toScaleDown -= down;
    }
  }

  /** The ReplicaSet template: the Deployment's plus the pod-template-hash label. */
  private templateFor(hash: string): PodTemplate {
    const t = this.object.spec.template;
    return { ...t, metadata: { ...t.metadata, labels: { ...t.metadata.labels, [POD_TEMPLATE_HASH]: hash } } };
  }

  private poolOf(pool: OwnedReplicaSet, template: PodTemplate): ReplicaPool {
    const d = this.object;
    return {
      name: pool.name,
      namespace: d.metadata.namespace,
      owner: controllerRef('ReplicaSet', pool.name, derivedUid(d.metadata.uid, pool.name)),
      template,
      replicas: pool.replicas,
      minReadySeconds: d.spec.minReadySeconds,
    };
  }

  /**
   * SetDeploymentCondition: the same status and reason again changes nothing, except that progress
   * (ReplicaSetUpdated) moves lastUpdateTime, which the progress deadline counts from
   * (progress.go syncRolloutStatus); the transition time moves only when the status does.
   */
  private setCondition(
    now: number,
    [type, status, reason, message]: [Condition['type'], Condition['status'], string, string],
  ): void {
    const at = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const old = this.conditions.find((c) => c.type === type);
    if (old && old.status === status && old.reason === reason) {
      if (reason === 'ReplicaSetUpdated') old.lastUpdateTime = at;
      return;
    }
    const c: Condition = {
      type,
      status,
      lastUpdateTime: at,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : at,
      reason,
      message,
    };
    this.conditions = [...this.conditions.filter((x) => x.type !== type), c].sort((a, b) =>
      a.type === b.type ? 0 : a.type === 'Available' ? -1 : 1,
    );
  }
}
