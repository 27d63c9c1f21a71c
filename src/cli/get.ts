import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import type { PodStatus, ContainerStatus } from '../api/status.js';
import { superviseOrphans } from '../lifecycle/supervisor-client.js';
import { view, collectGarbage, statusOf, podObject, isTerminating, type PodView } from '../pod/view.js';
import { publishedText } from '../sandbox/network.js';
import { NODE_NAME } from '../api/node.js';
import { humanDuration } from '../kubectl/duration.js';
import { formatTable } from '../kubectl/table.js';
import { writeObjects } from '../kubectl/object-output.js';
import { PodboxError } from '../errors.js';

/**
 * `podbox get [POD] [-o wide|json|yaml|name]`: a table like `kubectl get pods`, or the Pod object.
 */
export function registerGet(program: Command): void {
  program
    .command('get')
    .description('list pods (like kubectl get pods), or print one as a Kubernetes Pod object')
    .argument('[names...]', 'a pod, or a workload resource (jobs, deployments, statefulsets, services...) and names')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .action(async (args: string[], o: { output?: string }) => {
      await superviseOrphans(await collectGarbage());
      const format = o.output ?? '';
      if (!['', 'wide', 'json', 'yaml', 'name'].includes(format)) {
        throw new PodboxError(
          'InvalidArgument',
          `unknown output format "${format}"`,
          'use -o wide, json, yaml or name',
        );
      }
      // `podbox get jobs` and the like: cli/workloads.ts.
      const { resourceArgs, getWorkloads } = await import('./workloads.js');
      const { kind, names } = resourceArgs(args);
      if (kind) return getWorkloads(kind, names, format);
      const name = names[0];
      const views = (name ? [PodDir.open(name)] : PodDir.list()).map(view);
      if (format === 'json' || format === 'yaml') {
        await writeObjects(views.map(podObject), !!name, format);
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
      const rows = [
        [
          'NAME',
          'READY',
          'STATUS',
          'RESTARTS',
          'AGE',
          // PORTS, after kubectl's own columns: what the pod's stack publishes (as `podman ps` shows it).
          ...(wide ? ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES', 'PORTS'] : []),
        ],
      ];
      for (const v of views) {
        const s = statusOf(v);
        const sidecars = new Set(
          (v.record.pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name),
        );
        const r = tableRow(s, v.record.createdAt, Date.now(), isTerminating(v), sidecars);
        rows.push([
          v.dir.name,
          r.ready,
          r.status,
          r.restarts,
          r.age,
          ...(wide ? [s.podIP ?? '<none>', NODE_NAME, '<none>', '<none>', portsColumn(v)] : []),
        ]);
      }
      process.stdout.write(formatTable(rows));
    });
}

/**
 * kubectl's STATUS, READY and RESTARTS columns (k8s.io/kubernetes/pkg/printers/internalversion
 * printPod). Sidecars (restartable init containers) count in READY once started.
 */
export function tableRow(
  s: PodStatus,
  createdAt: string,
  now: number,
  terminating: boolean,
  sidecars: ReadonlySet<string> = new Set(),
): { ready: string; status: string; restarts: string; age: string } {
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
      reason = st.terminated.reason
        ? `Init:${st.terminated.reason}`
        : st.terminated.signal
          ? `Init:Signal:${st.terminated.signal}`
          : `Init:ExitCode:${st.terminated.exitCode}`;
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
      else if ('terminated' in st)
        reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
      else if ('running' in st && c.ready) {
        hasRunning = true;
        ready++;
      } else if ('running' in st) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      reason = s.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (terminating) reason = 'Terminating';
  const restartsText =
    lastRestart && restarts > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  return {
    ready: `${ready}/${apps.length + sidecars.size}`,
    status: reason,
    restarts: restartsText,
    age: humanDuration(now - Date.parse(createdAt)),
  };
}

/** The published ports of a running pod's network (sandbox/network.ts), `<none>` when none. */
function portsColumn(v: PodView): string {
  const net = v.state?.runtime.network;
  if (!v.alive || v.state?.runtime.finished || !net?.published.length) return '<none>';
  return publishedText(net.published).replaceAll(', ', ',');
}
