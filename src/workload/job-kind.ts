import { randomUUID } from 'node:crypto';
import { check } from '../api/manifest.js';
import { job, type JobSpec } from '../api/job-schema.js';
import { iso } from '../api/status.js';
import { humanDuration } from '../kubectl/duration.js';
import { JobController, JOB_LABELS } from './job-controller.js';
import type { KindBehaviour, WorkloadObject } from './object.js';
import { checkTemplate, templatePod } from './template.js';

/** batch/v1 Job: its schema (api/job-schema.ts), its controller (job-controller.ts), `kubectl get jobs`. */
export const jobKind = {
  parse(value, where, context) {
    const meta = (value as { metadata?: { name?: unknown } }).metadata;
    const label = `job "${String(meta?.name ?? '')}"`;
    const j = check(job, value, where, label, 'job');
    const uid = randomUUID();
    const pod = templatePod({ metadata: j.metadata }, j.spec.template);
    checkTemplate(pod, where, label, context);
    // What the API server adds on create (pkg/registry/batch/job/strategy.go generateSelector): the
    // selector by the Job's uid and its labels on the template; SetDefaults_Job gives the Job the
    // template's labels when it has none.
    const jobLabels = {
      [JOB_LABELS.controllerUid]: uid,
      [JOB_LABELS.jobName]: j.metadata.name,
      [JOB_LABELS.legacyControllerUid]: uid,
      [JOB_LABELS.legacyJobName]: j.metadata.name,
    };
    const templateLabels = { ...j.spec.template.metadata.labels, ...jobLabels };
    const { status: _status, ...rest } = j;
    const object: WorkloadObject = {
      ...rest,
      metadata: {
        name: j.metadata.name,
        namespace: j.metadata.namespace,
        ...(j.metadata.annotations ? { annotations: j.metadata.annotations } : {}),
        uid,
        creationTimestamp: iso(Date.now()),
        labels: j.metadata.labels && Object.keys(j.metadata.labels).length ? j.metadata.labels : templateLabels,
      },
      spec: {
        ...j.spec,
        selector: { matchLabels: { [JOB_LABELS.controllerUid]: uid } },
        template: { metadata: { ...j.spec.template.metadata, labels: templateLabels }, spec: pod.spec },
      },
    };
    return object;
  },

  controller(object, o) {
    const spec = object.spec as unknown as JobSpec;
    return new JobController(object, templatePod(object, spec.template), o);
  },

  // printers.go printJob (kubectl 1.31+): NAME STATUS COMPLETIONS DURATION AGE.
  columns: ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE'],
  row(object, status, now) {
    const spec = object.spec as unknown as JobSpec;
    const conditions = (status.conditions ?? []) as { type: string }[];
    const has = (t: string) => conditions.some((c) => c.type === t);
    const state = has('Complete')
      ? 'Complete'
      : has('Failed')
        ? 'Failed'
        : has('FailureTarget')
          ? 'FailureTarget'
          : has('SuccessCriteriaMet')
            ? 'SuccessCriteriaMet'
            : 'Running';
    const succeeded = Number(status.succeeded ?? 0);
    const completions =
      spec.completions !== undefined
        ? `${succeeded}/${spec.completions}`
        : spec.parallelism > 1
          ? `${succeeded}/1 of ${spec.parallelism}`
          : `${succeeded}/1`;
    const start = typeof status.startTime === 'string' ? Date.parse(status.startTime) : undefined;
    const end = typeof status.completionTime === 'string' ? Date.parse(status.completionTime) : now;
    const duration = start === undefined ? '' : humanDuration(end - start);
    const age = humanDuration(now - Date.parse(object.metadata.creationTimestamp));
    return [object.metadata.name, state, completions, duration, age];
  },
  wide: {
    columns: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    row(object) {
      const spec = object.spec as unknown as JobSpec;
      const containers = spec.template.spec.containers;
      const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
      return [containers.map((c) => c.name).join(','), containers.map((c) => c.image).join(','), selector.join(',')];
    },
  },
} satisfies KindBehaviour;
