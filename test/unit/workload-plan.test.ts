import { describe, expect, it } from 'vitest';
import { parseDocuments } from '../../src/api/manifest.js';
import { planOf } from '../../src/workload/plan.js';
import { applyRank } from '../../src/workload/kinds.js';
import { jobKind } from '../../src/workload/job-kind.js';
import type { WorkloadObject } from '../../src/workload/object.js';

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        env: [{name: A, valueFrom: {configMapKeyRef: {name: cm, key: a}}}]
`;
const POD = `apiVersion: v1
kind: Pod
metadata: {name: side}
spec: {containers: [{name: c, image: busybox}]}
`;
const CM = `apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: '1'}
`;

const sources = (...files: string[]) =>
  files.map((t, i) => ({ where: `f${i}.yaml`, docs: parseDocuments(t, `f${i}.yaml`) }));

describe('planOf: the documents of run FILE / run -f DIR', () => {
  it('validates every document, the ConfigMaps of any file shared, pods apart from workloads', async () => {
    const plan = await planOf(sources(`${JOB}---\n${POD}`, CM));
    expect(plan.pods.map((m) => m.pod.metadata.name)).toEqual(['side']);
    expect(plan.workloads.map((w) => `${w.kind.kind}/${w.object.metadata.name}`)).toEqual(['Job/work']);
    expect([...plan.context.configMaps.keys()]).toEqual(['cm']);
  });

  it("refuses a workload whose ConfigMap is in no file, naming the template's field", async () => {
    await expect(planOf(sources(JOB))).rejects.toThrow(
      /^f0\.yaml: job "work" is invalid: spec\.template\.spec\.containers\[0\]\.env\[0\]\.valueFrom\.configMapKeyRef/,
    );
  });

  it('refuses a kind podbox does not run, by name', async () => {
    await expect(planOf(sources(`apiVersion: apps/v1\nkind: Frobnicator\nmetadata: {name: x}\n`))).rejects.toThrow(
      'f0.yaml: apps/v1/Frobnicator "x" is not something podbox runs',
    );
  });

  it('orders kinds as helm installs them (kind_sorter.go): Secrets, ConfigMaps, claims, Services, Pods, Jobs', () => {
    const kinds = ['Job', 'Pod', 'Service', 'PersistentVolumeClaim', 'ConfigMap', 'Secret', 'Namespace', 'Unknown'];
    expect([...kinds].sort((a, b) => applyRank(a) - applyRank(b))).toEqual([
      'Namespace',
      'Secret',
      'ConfigMap',
      'PersistentVolumeClaim',
      'Service',
      'Pod',
      'Job',
      'Unknown',
    ]);
  });
});

describe("get jobs: kubectl's columns (printers.go printJob)", () => {
  const object = (spec: Record<string, unknown>): WorkloadObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'w', namespace: 'default', uid: 'u', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec,
  });
  const now = Date.parse('2026-01-01T00:01:00Z');
  it('COMPLETIONS and DURATION of a running and a finished Job', () => {
    expect(
      jobKind.row(object({ completions: 3, parallelism: 1 }), { succeeded: 1, startTime: '2026-01-01T00:00:05Z' }, now),
    ).toEqual(['w', 'Running', '1/3', '55s', '60s']);
    const done = {
      succeeded: 1,
      startTime: '2026-01-01T00:00:05Z',
      completionTime: '2026-01-01T00:00:15Z',
      conditions: [{ type: 'SuccessCriteriaMet' }, { type: 'Complete' }],
    };
    expect(jobKind.row(object({ parallelism: 3 }), done, now)).toEqual(['w', 'Complete', '1/1 of 3', '10s', '60s']);
    expect(jobKind.row(object({ parallelism: 1 }), { conditions: [{ type: 'FailureTarget' }] }, now)).toEqual([
      'w',
      'FailureTarget',
      '0/1',
      '',
      '60s',
    ]);
  });

  it('-o wide adds CONTAINERS IMAGES SELECTOR', async () => {
    const plan = await planOf(sources(`${JOB}---\n${CM}`));
    const { object } = plan.workloads[0]!;
    expect(jobKind.wide!.columns).toEqual(['CONTAINERS', 'IMAGES', 'SELECTOR']);
    expect(jobKind.wide!.row(object)).toEqual([
      'main',
      'busybox',
      `batch.kubernetes.io/controller-uid=${object.metadata.uid}`,
    ]);
  });
});
