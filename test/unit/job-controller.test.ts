import { describe, expect, it } from 'vitest';
import { parseDocuments } from '../../src/api/manifest.js';
import { jobKind } from '../../src/workload/job-kind.js';
import { compressIndexes, JOB_LABELS } from '../../src/workload/job-controller.js';
import type { ObservedPod, Reconciled, WorkloadController } from '../../src/workload/controller.js';
import type { Ids, WorkloadObject } from '../../src/workload/object.js';
import type { Pod } from '../../src/api/types.js';
import { PodboxError } from '../../src/errors.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Names and uids counted up, so every test reads the same. */
function fixedIds(): Ids {
  let n = 0;
  return { suffix: () => `p${String(n++).padStart(4, '0')}`, uid: () => `uid-${n}` };
}

function job(spec: string): WorkloadObject {
  const text = `
apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: localhost/busybox:test}]
`;
  const [doc] = parseDocuments(text, 'job.yaml');
  return jobKind.parse(doc!.value, 'job.yaml', { configMaps: new Map(), secrets: new Map(), claims: new Map() });
}

/** A fake host: the pods the controller made, whose phase a test sets. */
class World {
  pods = new Map<string, ObservedPod & { pod: Pod }>();
  now = T0;
  readonly c: WorkloadController;
  last!: Reconciled;
  constructor(object: WorkloadObject) {
    this.c = jobKind.controller(object, { ids: fixedIds() });
  }
  sync(): Reconciled {
    this.last = this.c.reconcile([...this.pods.values()], this.now);
    for (const a of this.last.actions) {
      if ('create' in a) {
        const m = a.create.metadata;
        this.pods.set(m.name, {
          pod: a.create,
          name: m.name,
          labels: m.labels ?? {},
          annotations: m.annotations ?? {},
          phase: 'Pending',
          ready: false,
          created: this.now,
          terminating: false,
          terminated: [],
        });
      } else this.pods.delete(a.delete);
    }
    return this.last;
  }
  names(): string[] {
    return [...this.pods.keys()];
  }
  end(name: string, exitCode: number): void {
    const p = this.pods.get(name)!;
    p.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    p.terminated = [{ container: 'main', init: false, exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' }];
  }
  running(): string[] {
    return [...this.pods.values()].filter((p) => p.phase === 'Pending' || p.phase === 'Running').map((p) => p.name);
  }
}

describe('Job controller: completions and parallelism', () => {
  it('runs completions pods, parallelism at a time, and completes', () => {
    const w = new World(job('completions: 3\nparallelism: 2'));
    w.sync();
    expect(w.names()).toEqual(['work-p0000', 'work-p0001']);
    expect(w.last.status).toMatchObject({ active: 2, ready: 0, startTime: '2026-01-01T00:00:00Z' });
    w.end('work-p0000', 0);
    w.now += 1000;
    w.sync();
    expect(w.running()).toEqual(['work-p0001', 'work-p0002']);
    w.end('work-p0001', 0);
    w.end('work-p0002', 0);
    w.now += 1000;
    const r = w.sync();
    expect(r.finished).toEqual({
      succeeded: true,
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    expect(r.status.succeeded).toBe(3);
    expect(r.status.completionTime).toBe('2026-01-01T00:00:02Z');
    expect((r.status.conditions as { type: string }[]).map((c) => c.type)).toEqual(['SuccessCriteriaMet', 'Complete']);
    expect(r.events).toContainEqual({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
  });

  it('labels its pods as the Job controller does, owned by the Job', () => {
    const object = job('completions: 1');
    const w = new World(object);
    w.sync();
    const pod = w.pods.get('work-p0000')!.pod;
    expect(pod.metadata.labels).toEqual({
      'batch.kubernetes.io/controller-uid': object.metadata.uid,
      'batch.kubernetes.io/job-name': 'work',
      'controller-uid': object.metadata.uid,
      'job-name': 'work',
    });
    expect(pod.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: 'work',
        uid: object.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pod.metadata.generateName).toBe('work-');
  });
});

describe('Job controller: backoffLimit and the pod failure backoff', () => {
  it('recreates a failed pod after 10s, then 20s, and fails once failures exceed backoffLimit', () => {
    const w = new World(job('backoffLimit: 2'));
    w.sync();
    w.end('work-p0000', 1);
    w.now += 1000;
    let r = w.sync();
    expect(w.running()).toEqual([]);
    expect(r.wakeAt).toBe(T0 + 1000 + 10_000);
    expect(r.status.failed).toBe(1);
    w.now = r.wakeAt!;
    w.sync();
    expect(w.running()).toEqual(['work-p0001']);
    w.end('work-p0001', 1);
    w.now += 1000;
    r = w.sync();
    expect(r.wakeAt).toBe(w.now + 20_000);
    w.now = r.wakeAt!;
    w.sync();
    w.end('work-p0002', 1);
    w.now += 1000;
    r = w.sync();
    expect(r.finished).toEqual({
      succeeded: false,
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    expect(r.status.failed).toBe(3);
    expect((r.status.conditions as { type: string }[]).map((c) => c.type)).toEqual(['FailureTarget', 'Failed']);
    expect(r.status.completionTime).toBeUndefined();
  });

  it('caps the backoff at 6 minutes', () => {
    const w = new World(job('backoffLimit: 20'));
    let r = w.sync();
    for (let i = 0; i < 8; i++) {
      w.end(w.running()[0]!, 1);
      w.now += 1;
      r = w.sync();
      w.now = r.wakeAt!;
      w.sync();
    }
    w.end(w.running()[0]!, 1);
    const failedAt = ++w.now;
    r = w.sync();
    expect(r.wakeAt).toBe(failedAt + 360_000);
  });

  it('completes with backoffLimit 1 when one pod of three fails once', () => {
    const w = new World(job('completions: 3\nparallelism: 2\nbackoffLimit: 1'));
    w.sync();
    w.end('work-p0000', 1);
    w.end('work-p0001', 0);
    w.now += 1000;
    let r = w.sync();
    // The success after the failure starts the backoff count again: no delay.
    expect(w.running()).toEqual(['work-p0002', 'work-p0003']);
    w.end('work-p0002', 0);
    w.end('work-p0003', 0);
    w.now += 1000;
    r = w.sync();
    expect(r.finished?.succeeded).toBe(true);
    expect(r.status).toMatchObject({ succeeded: 3, failed: 1 });
  });

  it('restartPolicy OnFailure: restarts in place count toward backoffLimit (pastBackoffLimitOnFailure)', () => {
    const o = job('backoffLimit: 2');
    (o.spec.template as { spec: { restartPolicy: string } }).spec.restartPolicy = 'OnFailure';
    const w = new World(o);
    w.sync();
    const p = w.pods.get('work-p0000')!;
    p.phase = 'Running';
    p.restarts = 1;
    expect(w.sync().finished).toBeUndefined();
    p.restarts = 2;
    const r = w.sync();
    expect(r.actions).toEqual([{ delete: 'work-p0000', reason: 'Job has reached the specified backoff limit' }]);
    expect(r.status).toMatchObject({ terminating: 1 });
    expect(w.sync().finished?.reason).toBe('BackoffLimitExceeded');
  });

  it('counts a pod that vanished before it finished as failed', () => {
    const w = new World(job('backoffLimit: 0'));
    w.sync();
    w.pods.clear();
    const r = w.sync();
    expect(r.finished?.reason).toBe('BackoffLimitExceeded');
  });
});

describe('Job controller: activeDeadlineSeconds', () => {
  it('wakes at the deadline, deletes the running pods, and fails once they are gone', () => {
    const w = new World(job('activeDeadlineSeconds: 5\nparallelism: 2\ncompletions: 4'));
    let r = w.sync();
    expect(r.wakeAt).toBe(T0 + 5000);
    w.now = T0 + 5000;
    const running = w.running();
    r = w.c.reconcile([...w.pods.values()], w.now);
    expect(r.actions).toEqual(
      running.map((n) => ({ delete: n, reason: 'Job was active longer than specified deadline' })),
    );
    expect(r.finished).toBeUndefined();
    expect(r.events?.[0]).toEqual({
      type: 'Warning',
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
    for (const n of running) w.end(n, 143);
    w.now += 100;
    r = w.sync();
    expect(r.finished).toEqual({
      succeeded: false,
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
  });
});

describe('Job controller: podFailurePolicy', () => {
  const policy = (action: string, codes = '[42]', op = 'In') => `backoffLimit: 0
podFailurePolicy:
  rules:
  - action: ${action}
    onExitCodes: {containerName: main, operator: ${op}, values: ${codes}}`;

  it('Ignore: the failure does not count toward backoffLimit, and the pod is replaced at once', () => {
    const w = new World(job(policy('Ignore')));
    w.sync();
    w.end('work-p0000', 42);
    let r = w.sync();
    expect(w.running()).toEqual(['work-p0001']);
    expect(r.status.failed).toBeUndefined();
    w.end('work-p0001', 0);
    r = w.sync();
    expect(r.finished?.succeeded).toBe(true);
  });

  it('FailJob: the Job fails with reason PodFailurePolicy', () => {
    const w = new World(job(policy('FailJob', '[0]', 'NotIn').replace('backoffLimit: 0', 'backoffLimit: 5')));
    w.sync();
    w.end('work-p0000', 3);
    const r = w.sync();
    expect(r.finished).toEqual({
      succeeded: false,
      reason: 'PodFailurePolicy',
      message: 'Container main for pod default/work-p0000 failed with exit code 3 matching FailJob rule at index 0',
    });
  });

  it('Count: the default, counted toward backoffLimit', () => {
    const w = new World(job(policy('Count')));
    w.sync();
    w.end('work-p0000', 42);
    expect(w.sync().finished?.reason).toBe('BackoffLimitExceeded');
  });
});

describe('Job controller: Indexed', () => {
  it('gives each index its pod, name, annotation, label, hostname and JOB_COMPLETION_INDEX', () => {
    const w = new World(job('completionMode: Indexed\ncompletions: 3\nparallelism: 2'));
    let r = w.sync();
    expect(w.names()).toEqual(['work-0-p0000', 'work-1-p0001']);
    const pod = w.pods.get('work-1-p0001')!.pod;
    expect(pod.metadata.annotations).toEqual({ [JOB_LABELS.completionIndex]: '1' });
    expect(pod.metadata.labels?.[JOB_LABELS.completionIndex]).toBe('1');
    expect(pod.spec.hostname).toBe('work-1');
    expect(pod.spec.containers[0]!.env).toEqual([
      {
        name: 'JOB_COMPLETION_INDEX',
        valueFrom: {
          fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
        },
      },
    ]);
    w.end('work-1-p0001', 0);
    r = w.sync();
    expect(r.status.completedIndexes).toBe('1');
    expect(w.running()).toEqual(['work-0-p0000', 'work-2-p0002']);
    w.end('work-0-p0000', 0);
    w.end('work-2-p0002', 0);
    r = w.sync();
    expect(r.status).toMatchObject({ succeeded: 3, completedIndexes: '0-2' });
    expect(r.finished?.succeeded).toBe(true);
  });

  it('backoffLimitPerIndex: an index that fails too often is failed; the Job fails with FailedIndexes', () => {
    const w = new World(job('completionMode: Indexed\ncompletions: 2\nparallelism: 2\nbackoffLimitPerIndex: 0'));
    w.sync();
    w.end('work-0-p0000', 1);
    w.end('work-1-p0001', 0);
    const r = w.sync();
    expect(r.status).toMatchObject({ failed: 1, succeeded: 1, completedIndexes: '1', failedIndexes: '0' });
    expect(r.finished).toEqual({ succeeded: false, reason: 'FailedIndexes', message: 'Job has failed indexes' });
  });

  it('maxFailedIndexes: exceeded fails the Job at once', () => {
    const w = new World(
      job('completionMode: Indexed\ncompletions: 3\nparallelism: 3\nbackoffLimitPerIndex: 0\nmaxFailedIndexes: 0'),
    );
    w.sync();
    w.end('work-0-p0000', 1);
    const r = w.sync();
    expect(r.actions).toEqual([
      { delete: 'work-1-p0001', reason: 'Job has exceeded the specified maximal number of failed indexes' },
      { delete: 'work-2-p0002', reason: 'Job has exceeded the specified maximal number of failed indexes' },
    ]);
  });

  it('compresses indexes as the Job controller writes them', () => {
    expect(compressIndexes([7, 0, 1, 2, 4, 6])).toBe('0-2,4,6-7');
    expect(compressIndexes([])).toBe('');
  });
});

describe('Job controller: a later host goes on from a snapshot', () => {
  it('does not count a pod twice', () => {
    const object = job('backoffLimit: 1');
    const w = new World(object);
    w.sync();
    w.end('work-p0000', 1);
    w.sync();
    const again = jobKind.controller(object, {
      ids: fixedIds(),
      restored: JSON.parse(JSON.stringify(w.c.snapshot!())),
    });
    const r = again.reconcile([...w.pods.values()], w.now);
    expect(r.status.failed).toBe(1);
    expect(r.finished).toBeUndefined();
  });
});

describe('batch/v1 Job validation (pkg/apis/batch/validation)', () => {
  const refused = (spec: string, restart = 'Never'): string => {
    try {
      const text = `apiVersion: batch/v1\nkind: Job\nmetadata: {name: work}\nspec:\n${spec}\n  template:\n    spec:\n      restartPolicy: ${restart}\n      containers: [{name: main, image: busybox}]\n`;
      jobKind.parse(parseDocuments(text, 'job.yaml')[0]!.value, 'job.yaml', {
        configMaps: new Map(),
        secrets: new Map(),
        claims: new Map(),
      });
    } catch (e) {
      if (e instanceof PodboxError) return e.message;
      throw e;
    }
    throw new Error('accepted');
  };
  it('refuses unknown fields by name', () => {
    expect(refused('  complections: 3')).toBe('job.yaml: job "work" is invalid: spec.complections: unknown field');
  });
  it('refuses a template restartPolicy other than Never or OnFailure', () => {
    expect(refused('  completions: 1', 'Always')).toBe(
      'job.yaml: job "work" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    );
  });
  it('refuses Indexed without completions', () => {
    expect(refused('  completionMode: Indexed')).toBe(
      'job.yaml: job "work" is invalid: spec.completions: Required value: when completion mode is Indexed',
    );
  });
  it('refuses a podFailurePolicy with restartPolicy OnFailure', () => {
    const spec = '  podFailurePolicy:\n    rules: [{action: Ignore, onExitCodes: {operator: In, values: [42]}}]';
    expect(refused(spec, 'OnFailure')).toBe(
      'job.yaml: job "work" is invalid: spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified',
    );
  });
  it('refuses exit code 0 for the In operator', () => {
    const spec = '  podFailurePolicy:\n    rules: [{action: Ignore, onExitCodes: {operator: In, values: [0, 42]}}]';
    expect(refused(spec)).toBe(
      'job.yaml: job "work" is invalid: spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator',
    );
  });
  it('refuses a template no pod could be made of, naming its field under spec.template', () => {
    const text = `apiVersion: batch/v1\nkind: Job\nmetadata: {name: work}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: a, image: busybox}, {name: a, image: busybox}]\n`;
    expect(() =>
      jobKind.parse(parseDocuments(text, 'job.yaml')[0]!.value, 'job.yaml', {
        configMaps: new Map(),
        secrets: new Map(),
        claims: new Map(),
      }),
    ).toThrow(/^job\.yaml: job "work" is invalid: spec\.template\.spec\.containers\[1\]\.name: Duplicate value: "a"$/);
  });
  it('defaults as SetDefaults_Job', () => {
    const o = job('');
    expect(o.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed' });
    expect(o.spec.selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': o.metadata.uid } });
  });
});
