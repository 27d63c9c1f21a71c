import type { Command } from 'commander';
import { stringify } from 'yaml';
import { existsSync } from 'node:fs';
import { PodDir, DELETE_REQUEST_FILE } from '../store/pods.js';
import type { PodStatus, ContainerStatus } from '../api/status.js';
import { view, isLost, collectGarbage, type PodView } from './pod-ref.js';
import { PodboxError } from '../errors.js';

/**
 * `podbox get [POD] [-o wide|json|yaml|name]`: a table like `kubectl get pods`, or the Pod object.
 */
export function registerGet(program: Command): void {
  program
    .command('get')
    .description('list pods (like kubectl get pods), or print one as a Kubernetes Pod object')
    .argument('[pod]')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .action(async (name: string | undefined, o: { output?: string }) => {
      await collectGarbage();
      const format = o.output ?? '';
      if (!['', 'wide', 'json', 'yaml', 'name'].includes(format)) {
        throw new PodboxError('InvalidArgument', `unknown output format "${format}"`, 'use -o wide, json, yaml or name');
      }
      const views = (name ? [PodDir.open(name)] : PodDir.list()).map(view);
      if (format === 'json' || format === 'yaml') {
        const objects = views.map(podObject);
        const out = name ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } };
        process.stdout.write(format === 'json' ? `${JSON.stringify(out, null, 4)}\n` : stringify(out));
        return;
      }
      if (format === 'name') {
        for (const v of views) process.stdout.write(`pod/${v.dir.name}\n`);
        return;
      }
      if (views.length === 0) {
        process.stderr.write('No resources found.\n');
        return;
      }
      const wide = format === 'wide';
      const rows = [['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'] : [])]];
      for (const v of views) {
        const s = statusOf(v);
        const sidecars = new Set((v.record.pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
        const r = tableRow(s, v.record.createdAt, Date.now(), isTerminating(v), sidecars);
        rows.push([v.dir.name, r.ready, r.status, r.restarts, r.age, ...(wide ? [s.podIP ?? '<none>', 'podbox', '<none>', '<none>'] : [])]);
      }
      process.stdout.write(formatTable(rows));
    });
}

/** Deletion requested and not finished (kubectl shows Terminating while deletionTimestamp is set). */
function isTerminating(v: PodView): boolean {
  return v.alive && !v.state?.runtime.finished && existsSync(v.dir.file(DELETE_REQUEST_FILE));
}

/** The status to show: a pod whose supervisor died unexpectedly is Unknown. */
export function statusOf(v: PodView): PodStatus {
  const s: PodStatus = v.state?.status ?? { phase: 'Pending', conditions: [], hostIP: '127.0.0.1', containerStatuses: [], qosClass: 'BestEffort' };
  if (isLost(v)) return { ...s, phase: 'Unknown', reason: 'SupervisorLost', message: 'the podbox process supervising this pod died; its containers died with it' };
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
      creationTimestamp: v.record.createdAt.replace(/\.\d{3}Z$/, 'Z'),
    },
    spec: original.spec ?? pod.spec,
    status: statusOf(v),
  };
}

/**
 * kubectl's STATUS, READY and RESTARTS columns (k8s.io/kubernetes/pkg/printers/internalversion
 * printPod). Sidecars (restartable init containers) count in READY once started.
 */
export function tableRow(s: PodStatus, createdAt: string, now: number, terminating: boolean, sidecars: ReadonlySet<string> = new Set()): { ready: string; status: string; restarts: string; age: string } {
  let reason: string = s.reason ?? s.phase;
  const inits = s.initContainerStatuses ?? [];
  let initializing = false;
  let restarts = 0;
  let lastRestart = 0;
  const count = (c: ContainerStatus) => {
    restarts += c.restartCount;
    const t = 'terminated' in c.lastState ? c.lastState.terminated : undefined;
    if (t?.finishedAt) lastRestart = Math.max(lastRestart, Date.parse(t.finishedAt));
  };
  inits.forEach(count);
  let ready = 0;
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i]!;
    const st = c.state;
    if ('terminated' in st && st.terminated.exitCode === 0) continue;
    if (sidecars.has(c.name) && c.started) {
      if (c.ready) ready++;
      continue;
    }
    if ('terminated' in st) {
      reason = st.terminated.reason ? `Init:${st.terminated.reason}` : st.terminated.signal ? `Init:Signal:${st.terminated.signal}` : `Init:ExitCode:${st.terminated.exitCode}`;
    } else if ('waiting' in st && st.waiting.reason && st.waiting.reason !== 'PodInitializing') {
      reason = `Init:${st.waiting.reason}`;
    } else {
      reason = `Init:${i}/${inits.length}`;
    }
    initializing = true;
    break;
  }
  const apps = s.containerStatuses;
  apps.forEach(count);
  const initialized = s.conditions.some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    let hasRunning = false;
    for (let i = apps.length - 1; i >= 0; i--) {
      const c = apps[i]!;
      const st = c.state;
      if ('waiting' in st && st.waiting.reason) reason = st.waiting.reason;
      else if ('terminated' in st && st.terminated.reason) reason = st.terminated.reason;
      else if ('terminated' in st) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
      else if ('running' in st && c.ready) { hasRunning = true; ready++; }
      else if ('running' in st) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      reason = s.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (terminating) reason = 'Terminating';
  const restartsText = lastRestart && restarts > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  return { ready: `${ready}/${apps.length + sidecars.size}`, status: reason, restarts: restartsText, age: humanDuration(now - Date.parse(createdAt)) };
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration, as kubectl prints AGE. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return '0s';
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}
