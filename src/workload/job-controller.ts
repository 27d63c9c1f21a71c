import type { Pod } from '../api/types.js';
import type { JobSpec, PodFailurePolicyRule } from '../api/job-schema.js';
import { iso } from '../api/status.js';
import type { ObservedPod, Reconciled, WorkloadAction, WorkloadController } from './controller.js';
import type { ControllerOptions, WorkloadObject } from './object.js';
import { podFromTemplate } from './template.js';

/**
 * The Job controller (k8s.io/kubernetes pkg/controller/job/job_controller.go syncJob, manageJob,
 * indexed_job_utils.go, backoff_utils.go, pod_failure_policy.go), as a pure decision over the pods
 * a Job owns. Each reconcile:
 *  1. counts the pods that ended since the last one, once each (trackJobStatusAndRemoveFinalizers:
 *     a pod's finalizer makes the controller see every end; here the controller remembers the pods
 *     it counted): a success, or a failure the podFailurePolicy judges (Ignore, FailJob, FailIndex,
 *     Count) and the backoff records; a pod that vanished unfinished is a failure;
 *  2. decides whether the Job is done: failed (podFailurePolicy FailJob, activeDeadlineSeconds,
 *     backoffLimit, backoffLimitPerIndex's failed indexes) or its success criteria met;
 *  3. done: deletes the pods still running (FailureTarget / SuccessCriteriaMet), and once none is
 *     left, the final condition (Failed / Complete);
 *  4. else manageJob: deletes surplus pods, and creates the missing ones unless a pod-failure backoff
 *     (10s doubled per failure since the last success, at most 6 minutes) is still running;
 *  5. the status, and when to be called again (the deadline, the end of a backoff).
 */

/** Labels and annotations the Job controller and the API server put on a Job's pods (batch/v1 types.go). */
export const JOB_LABELS = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  legacyJobName: 'job-name',
  completionIndex: 'batch.kubernetes.io/job-completion-index',
  indexFailureCount: 'batch.kubernetes.io/job-index-failure-count',
} as const;

/** job_controller.go: DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
export const POD_FAILURE_BACKOFF_MS = 10_000;
export const MAX_POD_FAILURE_BACKOFF_MS = 360_000;

type Outcome = 'succeeded' | 'failed' | 'ignored';

interface Condition {
  type: 'Complete' | 'Failed' | 'SuccessCriteriaMet' | 'FailureTarget';
  status: 'True';
  lastProbeTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** What the controller remembers between reconciles (and a later host restores). */
interface Memory {
  startTime?: number;
  completionTime?: number;
  /** pod name → its outcome, once counted */
  counted: Record<string, Outcome>;
  /** pods seen unfinished (name → completion index or -1): one that vanishes so is a failure */
  seen: Record<string, number>;
  succeeded: number;
  failed: number;
  completedIndexes: number[];
  failedIndexes: number[];
  /** index → its failures counted toward backoffLimitPerIndex */
  indexFailures: Record<string, number>;
  /** backoff_utils.go backoffRecord, per index ("-1" for a NonIndexed Job) */
  backoff: Record<string, { failures: number; last: number }>;
  conditions: Condition[];
  /** the reason the Job fails or succeeds, once decided */
  target?: { succeeded: boolean; reason: string; message: string };
}

export class JobController implements WorkloadController {
  readonly kind = 'Job';
  readonly name: string;
  private readonly spec: JobSpec;
  private readonly m: Memory;

  constructor(
    private readonly job: WorkloadObject,
    private readonly template: Pod,
    private readonly o: ControllerOptions,
  ) {
    this.name = job.metadata.name;
    this.spec = job.spec as unknown as JobSpec;
    this.m = (o.restored as Memory | undefined) ?? {
      counted: {},
      seen: {},
      succeeded: 0,
      failed: 0,
      completedIndexes: [],
      failedIndexes: [],
      indexFailures: {},
      backoff: {},
      conditions: [],
    };
  }

  snapshot(): unknown {
    return structuredClone(this.m);
  }

  private get indexed(): boolean {
    return this.spec.completionMode === 'Indexed';
  }

  reconcile(pods: readonly ObservedPod[], now: number): Reconciled {
    const m = this.m;
    const actions: WorkloadAction[] = [];
    const events: NonNullable<Reconciled['events']> = [];
    m.startTime ??= now;
    const decided = m.target !== undefined;

    // Step 1: count what ended.
    const present = new Set(pods.map((p) => p.name));
    for (const [name, index] of Object.entries(m.seen)) {
      if (present.has(name) || m.counted[name]) continue;
      // Gone before it finished (deleted by the controller or by hand): the Job controller counts
      // such a pod as failed when its finalizer is removed.
      this.countFailure(name, index, now, undefined);
    }
    for (const p of pods) {
      if (m.counted[p.name]) continue;
      const index = this.indexOf(p);
      if (p.phase === 'Succeeded') {
        m.counted[p.name] = 'succeeded';
        this.countSuccess(index, now);
      } else if (p.phase === 'Failed') {
        this.countFailure(p.name, index, now, p);
      } else m.seen[p.name] = index;
    }
    for (const name of Object.keys(m.seen)) if (m.counted[name]) delete m.seen[name];

    const running = pods.filter((p) => !m.counted[p.name] && p.phase !== 'Succeeded' && p.phase !== 'Failed');
    const active = running.filter((p) => !p.terminating);

    // Step 2: done?
    m.target ??= this.failure(now, running) ?? this.success(running);
    if (m.target && !decided) {
      this.condition(m.target.succeeded ? 'SuccessCriteriaMet' : 'FailureTarget', m.target, now);
      if (!m.target.succeeded) events.push({ type: 'Warning', reason: m.target.reason, message: m.target.message });
    }

    // Step 3: finish: nothing of the Job may run on.
    let wakeAt: number | undefined;
    if (m.target) {
      for (const p of active) {
        actions.push({ delete: p.name, reason: m.target.succeeded ? 'Job completed' : m.target.message });
        events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.name}` });
      }
      if (running.length === 0 && !this.finished) {
        if (m.target.succeeded) {
          m.completionTime = now;
          this.condition('Complete', m.target, now);
          events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
        } else this.condition('Failed', m.target, now);
      }
    } else {
      // Step 4: manageJob.
      wakeAt = this.manage(active, running, now, actions, events);
      const deadline = this.deadline();
      if (deadline !== undefined) wakeAt = Math.min(wakeAt ?? deadline, deadline);
    }

    // Step 5: the status.
    const done = this.finished;
    return {
      actions,
      status: this.status(running.length, active.length, actions, pods),
      ...(done
        ? { finished: { succeeded: m.target!.succeeded, reason: m.target!.reason, message: m.target!.message } }
        : {}),
      ...(wakeAt !== undefined ? { wakeAt } : {}),
      ...(events.length ? { events } : {}),
    };
  }

  private get finished(): boolean {
    return this.m.conditions.some((c) => c.type === 'Complete' || c.type === 'Failed');
  }

  /** The pod's completion index (its annotation, as getCompletionIndex reads it), or -1. */
  private indexOf(p: ObservedPod): number {
    if (!this.indexed) return -1;
    const v = p.annotations[JOB_LABELS.completionIndex] ?? p.labels[JOB_LABELS.completionIndex];
    const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : -1;
    return n < (this.spec.completions ?? 0) ? n : -1;
  }

  private countSuccess(index: number, now: number): void {
    const m = this.m;
    if (this.indexed) {
      if (index >= 0 && !m.completedIndexes.includes(index) && !m.failedIndexes.includes(index)) {
        m.completedIndexes.push(index);
        m.completedIndexes.sort((a, b) => a - b);
      }
      m.succeeded = m.completedIndexes.length;
    } else m.succeeded++;
    // backoff_utils.go newBackoffRecord: a success after the last failure starts the count again.
    const b = m.backoff[String(this.backoffKey(index))];
    if (b && b.last <= now) b.failures = 0;
  }

  /** A failed pod (or one gone unfinished, p undefined), judged by the podFailurePolicy. */
  private countFailure(name: string, index: number, now: number, p: ObservedPod | undefined): void {
    const m = this.m;
    const match = p ? matchPodFailurePolicy(this.spec.podFailurePolicy?.rules ?? [], p) : undefined;
    if (match?.rule.action === 'Ignore') {
      m.counted[name] = 'ignored';
      return;
    }
    m.counted[name] = 'failed';
    m.failed++;
    const key = String(this.backoffKey(index));
    const b = (m.backoff[key] ??= { failures: 0, last: 0 });
    b.failures++;
    b.last = now;
    if (match?.rule.action === 'FailJob' && !m.target) {
      const c = match.container;
      m.target = {
        succeeded: false,
        reason: 'PodFailurePolicy',
        message:
          `Container ${c.container} for pod ${this.job.metadata.namespace}/${name} failed with exit code ` +
          `${c.exitCode} matching FailJob rule at index ${match.index}`,
      };
    }
    if (this.indexed && index >= 0 && this.spec.backoffLimitPerIndex !== undefined) {
      const failures = (m.indexFailures[String(index)] ?? 0) + 1;
      m.indexFailures[String(index)] = failures;
      if (match?.rule.action === 'FailIndex' || failures > this.spec.backoffLimitPerIndex) {
        if (!m.failedIndexes.includes(index) && !m.completedIndexes.includes(index)) {
          m.failedIndexes.push(index);
          m.failedIndexes.sort((a, b) => a - b);
        }
      }
    }
  }

  /** The backoff record a pod's failure counts in: its index's with backoffLimitPerIndex, else the Job's. */
  private backoffKey(index: number): number {
    return this.spec.backoffLimitPerIndex !== undefined ? index : -1;
  }

  private deadline(): number | undefined {
    const s = this.spec.activeDeadlineSeconds;
    return s === undefined || this.m.startTime === undefined ? undefined : this.m.startTime + s * 1000;
  }

  /** syncJob's failure checks, in its order: pod failure policy, backoff limit, failed indexes, deadline. */
  private failure(now: number, running: readonly ObservedPod[]): Memory['target'] {
    const m = this.m;
    const s = this.spec;
    // pastBackoffLimitOnFailure: with restartPolicy OnFailure, restarts in place count as failures.
    let restarts = 0;
    if (this.template.spec.restartPolicy === 'OnFailure') for (const p of running) restarts += p.restarts ?? 0;
    const pastOnFailure = s.backoffLimit === 0 ? restarts > 0 : restarts > 0 && restarts >= s.backoffLimit;
    if (m.failed > s.backoffLimit || pastOnFailure)
      return {
        succeeded: false,
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit',
      };
    if (this.indexed && s.backoffLimitPerIndex !== undefined) {
      if (s.maxFailedIndexes !== undefined && m.failedIndexes.length > s.maxFailedIndexes)
        return {
          succeeded: false,
          reason: 'MaxFailedIndexesExceeded',
          message: 'Job has exceeded the specified maximal number of failed indexes',
        };
      const ended = m.completedIndexes.length + m.failedIndexes.length;
      if (m.failedIndexes.length > 0 && ended >= (s.completions ?? 0))
        return { succeeded: false, reason: 'FailedIndexes', message: 'Job has failed indexes' };
    }
    const deadline = this.deadline();
    if (deadline !== undefined && now >= deadline)
      return { succeeded: false, reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    return undefined;
  }

  /** The success criteria: completions reached; a Job without completions once one pod succeeded and none runs. */
  private success(running: readonly ObservedPod[]): Memory['target'] {
    const m = this.m;
    const c = this.spec.completions;
    const met = c === undefined ? m.succeeded > 0 && running.length === 0 : m.succeeded >= c;
    return met
      ? { succeeded: true, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }
      : undefined;
  }

  /** manageJob: surplus pods deleted, missing ones created unless backing off. Returns when to look again. */
  private manage(
    active: readonly ObservedPod[],
    running: readonly ObservedPod[],
    now: number,
    actions: WorkloadAction[],
    events: NonNullable<Reconciled['events']>,
  ): number | undefined {
    const m = this.m;
    const s = this.spec;
    const remove = (p: ObservedPod, reason: string) => {
      actions.push({ delete: p.name, reason });
      events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.name}` });
    };
    // podReplacementPolicy Failed: a terminating pod is replaced only once it has failed.
    const occupying = s.podReplacementPolicy === 'Failed' ? running : active;
    let wakeAt: number | undefined;
    const backingOff = (index: number): boolean => {
      const b = m.backoff[String(this.backoffKey(index))];
      if (!b || b.failures === 0) return false;
      const { initialMs, maxMs } = this.o.backoff ?? {
        initialMs: POD_FAILURE_BACKOFF_MS,
        maxMs: MAX_POD_FAILURE_BACKOFF_MS,
      };
      const until = b.last + Math.min(initialMs * 2 ** (b.failures - 1), maxMs);
      if (until <= now) return false;
      wakeAt = Math.min(wakeAt ?? until, until);
      return true;
    };
    if (!this.indexed) {
      const want =
        s.completions === undefined
          ? m.succeeded > 0
            ? 0
            : s.parallelism
          : Math.max(0, Math.min(s.parallelism, s.completions - m.succeeded));
      if (active.length > want) {
        // controller.ActivePods order: the least far along goes first (pending, not ready, newest).
        for (const p of [...active].sort(lessFarAlong).slice(0, active.length - want))
          remove(p, 'too many active pods');
      } else if (occupying.length < want && !backingOff(-1)) {
        for (let i = occupying.length; i < want; i++) this.create(actions, events, -1);
      }
      return wakeAt;
    }
    // Indexed: one pod per index that is neither completed nor failed, lowest indexes first.
    const byIndex = new Map<number, ObservedPod[]>();
    for (const p of active) {
      const ix = this.indexOf(p);
      if (ix < 0 || m.completedIndexes.includes(ix) || m.failedIndexes.includes(ix)) {
        remove(p, ix < 0 ? 'pod without a valid completion index' : 'its index is already finished');
        continue;
      }
      byIndex.set(ix, [...(byIndex.get(ix) ?? []), p]);
    }
    for (const [, ps] of byIndex)
      for (const p of [...ps].sort(lessFarAlong).slice(0, ps.length - 1)) remove(p, 'duplicate index');
    const taken = new Set(occupying.map((p) => this.indexOf(p)));
    let room = s.parallelism - Math.min(occupying.length, s.parallelism);
    for (let ix = 0; ix < (s.completions ?? 0) && room > 0; ix++) {
      if (taken.has(ix) || m.completedIndexes.includes(ix) || m.failedIndexes.includes(ix)) continue;
      if (backingOff(ix)) {
        if (s.backoffLimitPerIndex !== undefined) continue;
        break;
      }
      this.create(actions, events, ix);
      room--;
    }
    return wakeAt;
  }

  /**
   * A new pod of the Job (job_controller.go manageJob, indexed_job_utils.go): the Job's labels; for
   * an Indexed Job the index as annotation and label, JOB_COMPLETION_INDEX in every container
   * (addCompletionIndexEnvVariables, through the downward API) and the hostname NAME-INDEX.
   */
  private create(actions: WorkloadAction[], events: NonNullable<Reconciled['events']>, index: number): void {
    const job = this.job;
    const { name, uid } = job.metadata;
    const labels: Record<string, string> = {
      [JOB_LABELS.controllerUid]: uid,
      [JOB_LABELS.jobName]: name,
      [JOB_LABELS.legacyControllerUid]: uid,
      [JOB_LABELS.legacyJobName]: name,
    };
    const annotations: Record<string, string> = {};
    let template = this.template;
    let generateName = `${name}-`;
    if (index >= 0) {
      labels[JOB_LABELS.completionIndex] = String(index);
      annotations[JOB_LABELS.completionIndex] = String(index);
      if (this.spec.backoffLimitPerIndex !== undefined)
        annotations[JOB_LABELS.indexFailureCount] = String(this.m.indexFailures[String(index)] ?? 0);
      generateName = `${name}-${index}-`;
      template = withCompletionIndex(template, `${name}-${index}`);
    }
    const pod = podFromTemplate(job, template, { generateName, labels, annotations }, this.o.ids);
    actions.push({ create: pod });
    // Expected from now on (controller_utils.go ControllerExpectations): a pod that never shows up
    // or vanishes unfinished is a failure. (Where podbox cannot make the pod at all, that counts
    // toward backoffLimit, so a Job whose pods cannot be made ends.)
    this.m.seen[pod.metadata.name] = index;
    events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `Created pod: ${pod.metadata.name}` });
  }

  private condition(type: Condition['type'], t: { reason: string; message: string }, now: number): void {
    if (this.m.conditions.some((c) => c.type === type)) return;
    const at = iso(now);
    this.m.conditions.push({
      type,
      status: 'True',
      lastProbeTime: at,
      lastTransitionTime: at,
      reason: t.reason,
      message: t.message,
    });
  }

  /** The Job's .status, with the fields and omissions of batch/v1 JobStatus. */
  private status(
    running: number,
    active: number,
    actions: readonly WorkloadAction[],
    pods: readonly ObservedPod[],
  ): Record<string, unknown> {
    const m = this.m;
    // What this reconcile asked for counts already, as the Job controller updates its status with them.
    const created = actions.filter((a) => 'create' in a).length;
    const deleted = new Set(actions.flatMap((a) => ('delete' in a ? [a.delete] : [])));
    const status: Record<string, unknown> = {};
    if (m.conditions.length) status.conditions = m.conditions.map((c) => ({ ...c }));
    if (m.startTime !== undefined) status.startTime = iso(m.startTime);
    if (m.completionTime !== undefined) status.completionTime = iso(m.completionTime);
    if (active + created - deleted.size) status.active = active + created - deleted.size;
    if (m.succeeded) status.succeeded = m.succeeded;
    if (m.failed) status.failed = m.failed;
    status.terminating = running - active + deleted.size;
    if (this.indexed && m.completedIndexes.length) status.completedIndexes = compressIndexes(m.completedIndexes);
    if (this.indexed && this.spec.backoffLimitPerIndex !== undefined)
      status.failedIndexes = compressIndexes(m.failedIndexes);
    status.uncountedTerminatedPods = {};
    status.ready = pods.filter((p) => p.ready && !p.terminating && !deleted.has(p.name)).length;
    return status;
  }
}

/** The template of index `index`'s pod: JOB_COMPLETION_INDEX from the pod's annotation, and its hostname. */
function withCompletionIndex(template: Pod, hostname: string): Pod {
  const env = {
    name: 'JOB_COMPLETION_INDEX',
    valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${JOB_LABELS.completionIndex}']` } },
  };
  const add = <C extends { env?: unknown[] }>(c: C): C =>
    (c.env as { name: string }[] | undefined)?.some((e) => e.name === env.name)
      ? c
      : { ...c, env: [...(c.env ?? []), env] };
  const spec = { ...template.spec, containers: template.spec.containers.map(add) };
  if (template.spec.initContainers) spec.initContainers = template.spec.initContainers.map(add);
  // A hostname is a DNS label: a Job name too long for NAME-INDEX keeps the pod's name as hostname.
  if (spec.hostname === undefined && hostname.length <= 63) spec.hostname = hostname;
  return { ...template, spec: spec as Pod['spec'] };
}

/**
 * pod_failure_policy.go matchPodFailurePolicy: the first rule that matches, with the container it
 * matched on. onExitCodes looks at terminated containers, init containers first, never at exit
 * code 0; onPodConditions rules never match here (podbox sets no DisruptionTarget-like conditions).
 */
export function matchPodFailurePolicy(
  rules: readonly PodFailurePolicyRule[],
  p: ObservedPod,
): { rule: PodFailurePolicyRule; index: number; container: ObservedPod['terminated'][number] } | undefined {
  const ordered = [...p.terminated.filter((t) => t.init), ...p.terminated.filter((t) => !t.init)];
  for (const [index, rule] of rules.entries()) {
    const req = rule.onExitCodes;
    if (!req) continue;
    const container = ordered.find(
      (t) =>
        t.exitCode !== 0 &&
        (req.containerName === undefined || req.containerName === t.container) &&
        req.values.includes(t.exitCode) === (req.operator === 'In'),
    );
    if (container) return { rule, index, container };
  }
  return undefined;
}

/** controller.ActivePods' order, least far along first: pending before running, not ready before ready, newer first. */
function lessFarAlong(a: ObservedPod, b: ObservedPod): number {
  const rank = (p: ObservedPod) => (p.phase === 'Pending' ? 0 : p.ready ? 2 : 1);
  return rank(a) - rank(b) || b.created - a.created;
}

/** "0,1,2,4,6,7" → "0-2,4,6-7", as the Job controller writes completedIndexes (indexed_job_utils.go). */
export function compressIndexes(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
