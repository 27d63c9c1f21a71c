import type { ObservedPod, Reconciled, WorkloadAction, WorkloadController } from './controller.js';
import type { DaemonSet } from './apps-schema.js';
import { NODE_NAME } from '../api/node.js';
import { ReadyTimes, earliest, isTerminal, withoutZeros } from './availability.js';
import { controllerRef, podFromTemplate } from './owned-pod.js';
import { computeHash, cryptoRandom, generateName, podsPrefix, type RandomIndex } from './naming.js';
import { selectorMatches } from './label-selector.js';
import { CONTROLLER_REVISION_HASH } from './stateful-set.js';
import type { ControllerOptions } from './replica-set.js';

type Event = NonNullable<Reconciled['events']>[number];

/** The labels the node carries (the kubelet's nodestatus, well_known_labels.go), for a template's nodeSelector. */
export function nodeLabels(arch: string = process.arch): Record<string, string> {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return {
    'kubernetes.io/hostname': NODE_NAME,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': goArch[arch] ?? arch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': goArch[arch] ?? arch,
  };
}

/**
 * The tolerations every daemon pod gets (pkg/controller/daemon/util/daemonset_util.go
 * AddOrUpdateDaemonPodTolerations), so node conditions never keep it off or evict it; network-unavailable
 * only for hostNetwork pods.
 */
function daemonTolerations(hostNetwork: boolean): Record<string, string>[] {
  const t = (key: string, effect: string) => ({ key: `node.kubernetes.io/${key}`, operator: 'Exists', effect });
  return [
    t('not-ready', 'NoExecute'),
    t('unreachable', 'NoExecute'),
    t('disk-pressure', 'NoSchedule'),
    t('memory-pressure', 'NoSchedule'),
    t('pid-pressure', 'NoSchedule'),
    t('unschedulable', 'NoSchedule'),
    ...(hostNetwork ? [t('network-unavailable', 'NoSchedule')] : []),
  ];
}

/** Go's failedPodsBackoff in daemon_controller.go: 1 s doubling to 15 min between deleting a node's failed pods. */
const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 15 * 60 * 1000;

/**
 * An apps/v1 DaemonSet on the one node there is: one pod "NAME-RAND5", if the template's
 * nodeSelector matches this node. Each reconcile is one round of
 * pkg/controller/daemon/daemon_controller.go syncDaemonSet for this node (podsShouldBeOnNode):
 *  1. a Failed pod is deleted (with failedPodsBackoff between tries) and replaced (FailedDaemonPod);
 *  2. no running pod and the node should run one → create one; several → keep the oldest;
 *     the node should not run one → delete them. A pod still terminating keeps a replacement
 *     waiting: on a cluster the scheduler would not place it either while the old pod holds its
 *     host ports;
 *  3. RollingUpdate (rolling_update.go): a pod of an older template is deleted (maxSurge 0), or,
 *     with maxSurge, the new pod is made first and the old one deleted once the new is available;
 *  4. status (updateDaemonSetStatus).
 */
export class DaemonSetController implements WorkloadController {
  readonly kind = 'DaemonSet';
  readonly name: string;
  private object: DaemonSet;
  private readonly ready = new ReadyTimes();
  private readonly random: RandomIndex;
  private failures = 0;
  private nextFailedDelete = 0;

  private readonly labels: Record<string, string>;

  /** `nodeLabels`: this node's labels, for the template's nodeSelector (tests give their own). */
  constructor(object: DaemonSet, options: ControllerOptions & { nodeLabels?: Record<string, string> } = {}) {
    this.object = object;
    this.name = object.metadata.name;
    this.random = options.random ?? cryptoRandom;
    this.labels = options.nodeLabels ?? nodeLabels();
  }

  update(object: DaemonSet): void {
    this.object = object;
  }

  /** The controller-revision-hash label value of the current template (a DaemonSet's is the bare hash). */
  revision(): string {
    return computeHash(this.object.spec.template);
  }

  /** nodeShouldRunDaemonPod, as far as one node goes: the template's nodeSelector matches its labels. */
  shouldRun(): boolean {
    const sel = this.object.spec.template.spec.nodeSelector;
    if (sel === undefined || sel === null || typeof sel !== 'object') return true;
    return Object.entries(sel as Record<string, unknown>).every(([k, v]) => this.labels[k] === v);
  }

  reconcile(pods: readonly ObservedPod[], now: number): Reconciled {
    const ds = this.object;
    this.ready.observe(pods, now);
    const owned = pods.filter((p) => selectorMatches(ds.spec.selector, p.labels));
    const actions: WorkloadAction[] = [];
    const events: Event[] = [];
    let wakeAt: number | undefined;
    const del = (p: ObservedPod, why: string) => {
      actions.push({ delete: p.name, reason: why });
      events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.name}` });
    };
    const revision = this.revision();
    const shouldRun = this.shouldRun();

    // Step 1: failed pods, with back-off.
    const failed = owned.filter((p) => isTerminal(p) && !p.terminating);
    if (failed.length) {
      if (now >= this.nextFailedDelete) {
        for (const p of failed) {
          events.push({
            type: 'Warning',
            reason: 'FailedDaemonPod',
            message:
              `Found failed daemon pod ${ds.metadata.namespace}/${p.name} on node ${NODE_NAME}, ` +
              'will try to kill it',
          });
          del(p, `Failed daemon pod: replaced`);
        }
        this.failures++;
        this.nextFailedDelete = now + Math.min(BACKOFF_START_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
      } else {
        wakeAt = this.nextFailedDelete;
      }
    }
    // Step 2: one pod, the oldest.
    const running = owned
      .filter((p) => !isTerminal(p) && !p.terminating)
      .sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : 1));
    const goingAway = owned.some((p) => p.terminating) || failed.length > 0;
    if (!shouldRun) {
      for (const p of running) del(p, `node ${NODE_NAME} does not match the DaemonSet's nodeSelector`);
    } else if (running.length === 0) {
      if (!goingAway) actions.push({ create: this.podFor(pods) });
    } else {
      // Step 3 (decided first, since a surge keeps two pods): rolling update.
      const rolling = ds.spec.updateStrategy.type === 'RollingUpdate';
      const surge = ds.spec.updateStrategy.rollingUpdate?.maxSurge;
      const surging = rolling && surge !== undefined && surge !== 0 && surge !== '0%';
      const fresh = running.find((p) => p.labels[CONTROLLER_REVISION_HASH] === revision);
      const oldest = running[0]!;
      const keep = surging && fresh && fresh !== oldest ? [oldest, fresh] : [oldest];
      for (const p of running) if (!keep.includes(p)) del(p, 'more than one daemon pod on the node');
      if (rolling && oldest.labels[CONTROLLER_REVISION_HASH] !== revision) {
        if (!surging) del(oldest, `rolling update to revision ${revision}`);
        else if (!fresh) actions.push({ create: this.podFor(pods) });
        else if (this.ready.available(fresh, ds.spec.minReadySeconds, now))
          del(oldest, `rolling update to revision ${revision}`);
      }
    }
    for (const a of actions)
      if ('create' in a)
        events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `Created pod: ${a.create.metadata.name}` });

    // Step 4: status.
    const desired = shouldRun ? 1 : 0;
    const scheduled = running.length > 0;
    const available = running.filter((p) => this.ready.available(p, ds.spec.minReadySeconds, now)).length > 0;
    const status = withoutZeros(
      {
        currentNumberScheduled: shouldRun && scheduled ? 1 : 0,
        numberMisscheduled: !shouldRun && scheduled ? 1 : 0,
        desiredNumberScheduled: desired,
        numberReady: shouldRun && running.some((p) => p.ready) ? 1 : 0,
        observedGeneration: 1,
        updatedNumberScheduled: running.some((p) => p.labels[CONTROLLER_REVISION_HASH] === revision) ? 1 : 0,
        numberAvailable: shouldRun && available ? 1 : 0,
        numberUnavailable: shouldRun && !available ? 1 : 0,
      },
      ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady'],
    );
    wakeAt = earliest(wakeAt, this.ready.nextAvailableAt(running, ds.spec.minReadySeconds, now));
    return { actions, status, events, ...(wakeAt !== undefined ? { wakeAt } : {}) };
  }

  /**
   * The daemon pod (daemon_controller.go syncNodes, util.CreatePodTemplate): the template with the
   * controller-revision-hash and pod-template-generation labels, the daemon tolerations, and the
   * node affinity that pins it to this node (ReplaceDaemonSetPodNodeNameNodeAffinity), which
   * `get -o yaml` shows as on a cluster and which podbox, with one node, otherwise ignores.
   */
  podFor(existing: readonly ObservedPod[] = []) {
    const ds = this.object;
    const taken = new Set(existing.map((p) => p.name));
    let name: string;
    do name = generateName(podsPrefix(ds.metadata.name), this.random);
    while (taken.has(name));
    const t = ds.spec.template.spec;
    const own = Array.isArray(t.tolerations) ? (t.tolerations as Record<string, string>[]) : [];
    const added = daemonTolerations(t.hostNetwork === true).filter(
      (a) => !own.some((o) => o.key === a.key && o.effect === a.effect),
    );
    return podFromTemplate(ds.spec.template, {
      name,
      namespace: ds.metadata.namespace,
      owner: controllerRef('DaemonSet', ds.metadata.name, ds.metadata.uid),
      labels: { [CONTROLLER_REVISION_HASH]: this.revision(), 'pod-template-generation': '1' },
      spec: {
        tolerations: [...own, ...added],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [NODE_NAME] }] }],
            },
          },
        },
      },
    });
  }
}
