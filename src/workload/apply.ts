import { spawnDetachedAndAwaitWord } from '../host/detached-child.js';
import { closeSync, writeSync } from 'node:fs';
import { cliPath } from '../lifecycle/supervisor-client.js';
import { launchRequest, isAlive, thisProcess } from '../pod/dir.js';
import { startDetached } from '../pod/launch.js';
import { pullSecretsOf } from '../registry/pull-secrets.js';
import { RunSignals } from '../lifecycle/run-signals.js';
import { pollUntil } from '../host/poll.js';
import type { LogStream } from '../logs/cri-log.js';
import type { Manifest } from '../api/types.js';
import { PodboxError } from '../errors.js';
import { WorkloadDir, type WorkloadRecord } from './dir.js';
import { deleteOwnedPods, WorkloadHost, type Finished } from './host.js';
import { loadKind, resourceOf, workloadKindByKind } from './kinds.js';
import type { KindNames, WorkloadKind, WorkloadObject } from './object.js';
import { withServicePorts } from './publish.js';
import type { Plan } from './plan.js';

/**
 * Running a plan (plan.ts) of pods and workloads:
 *
 *   podbox run FILE (foreground)      this process hosts every workload (host.ts) and follows its pods'
 *                                     output; exits 0 when all finished well, 1 when one failed (the
 *                                     reason printed); Ctrl-C: the workloads' pods deleted, exit 130
 *   podbox run -d FILE ──spawn──▶ podbox __workload KIND NAME   (one per workload; fd 3 = pipe back)
 *                      ◀── "ok\n"            it hosts the workload; prints KIND.GROUP/NAME created
 *                      ◀── "error: LINE\n"   nothing left behind
 *   podbox delete KIND NAME ──SIGTERM──▶ the host stops; then the workload's pods are deleted
 *                                      gracefully, and its directory
 *
 * Pods of the plan are created as `run -d` creates them, and kept until `podbox delete`.
 */

export interface PlanOptions {
  keep?: boolean;
  replace?: boolean;
  /** the PODBOX_* settings of this run, for the pods */
  settings: Record<string, string>;
  /** the lines of the pods' containers */
  echo: (pod: string, container: string, stream: LogStream, text: string) => void;
}

function recordOf(
  object: WorkloadObject,
  plan: Plan,
  settings: Record<string, string>,
  foreground = false,
): WorkloadRecord {
  return {
    ...(foreground ? { foreground } : {}),
    object,
    configMaps: [...plan.context.configMaps.values()],
    secrets: [...plan.context.secrets.values()],
    claims: [...plan.context.claims.values()],
    settings,
  };
}

/**
 * The objects nothing runs (Services), stored as they are, with their status, and kept until
 * `podbox delete` as the plan's pods are; then the plan's pods, each with the ports of the Services
 * that select it (publish.ts).
 */
async function createPods(plan: Plan, settings: Record<string, string>): Promise<void> {
  for (const w of plan.workloads) {
    if (w.kind.controller) continue;
    const dir = WorkloadDir.create(recordOf(w.object, plan, settings), resourceOf(w.object.apiVersion, w.kind.kind));
    dir.writeStatus(w.kind.status?.(w.object) ?? {});
    process.stdout.write(`${resourceOf(w.object.apiVersion, w.kind.kind)}/${w.object.metadata.name} created\n`);
  }
  const pending = new Set<string>();
  for (const plain of plan.pods) {
    const { pod, skipped } = withServicePorts(plain.pod, settings, pending);
    for (const why of skipped) process.stderr.write(`podbox: pod "${pod.metadata.name}": ${why}\n`);
    const m = { ...plain, pod };
    const error = await startDetached(podRequest(m, settings));
    if (error) throw new PodboxError('RuntimeFailed', error, 'see `podbox describe` of the pod');
    process.stdout.write(`pod/${m.pod.metadata.name} created\n`);
  }
}

function podRequest(m: Manifest, settings: Record<string, string>) {
  const request = launchRequest(m, new Map(), false);
  request.pullSecrets = pullSecretsOf(m);
  request.settings = settings;
  return request;
}

async function replaceExisting(plan: Plan): Promise<void> {
  const { deletePod } = await import('../pod/delete.js');
  for (const m of plan.pods) await deletePod(m.pod.metadata.name, { missingOk: true });
  for (const w of plan.workloads) await deleteWorkload(w.kind, w.object.metadata.name, { missingOk: true });
}

/** The foreground run: hosts the workloads here until they finish; returns the exit status. */
export async function runPlan(plan: Plan, o: PlanOptions): Promise<number> {
  const signals = new RunSignals();
  const claimed: { dir: WorkloadDir; kind: WorkloadKind; object: WorkloadObject }[] = [];
  try {
    if (o.replace) await replaceExisting(plan);
    await createPods(plan, o.settings);
    const hosted = plan.workloads.filter((w) => w.kind.controller);
    for (const w of hosted) {
      const dir = WorkloadDir.create(
        recordOf(w.object, plan, o.settings, true),
        resourceOf(w.object.apiVersion, w.kind.kind),
      );
      dir.writeHost(thisProcess());
      claimed.push({ dir, kind: w.kind, object: w.object });
    }
    const hosts = hosted.map(
      (w, i) =>
        new WorkloadHost(claimed[i]!.dir, w.kind, {
          echo: o.echo,
          // A pod that could not be made, or a Service port not published, is said at once; the
          // Job's own failure, in the result line.
          event: (e) => {
            if (e.reason === 'FailedCreate' || e.reason === 'PortNotPublished')
              process.stderr.write(
                `podbox: ${resourceOf(w.object.apiVersion, w.kind.kind)}/${w.object.metadata.name}: ${e.message}\n`,
              );
          },
        }),
    );
    signals.act = () => hosts.forEach((h) => h.stop());
    if (signals.exit !== undefined) signals.act();
    const results = await Promise.all(hosts.map((h) => h.run()));
    let exit = 0;
    results.forEach((r, i) => {
      const { object } = hosted[i]!;
      if (r) process.stderr.write(`podbox: ${resultLine(object, r)}\n`);
      if (r && !r.succeeded) exit = 1;
    });
    return signals.exit ?? exit;
  } finally {
    // A foreground run's workloads go with it (their output was shown), unless --keep; after a
    // signal, always. ttlSecondsAfterFinished is moot here: the run removes them at once.
    for (const { dir, kind, object } of claimed) {
      if (!o.keep || signals.exit !== undefined) {
        await deleteOwnedPods(kind, object, signals.grace);
        dir.remove();
      } else dir.writeHost(undefined);
    }
    signals.stop();
  }
}

/** `job.batch "work" failed: BackoffLimitExceeded: Job has reached the specified backoff limit` */
export function resultLine(object: WorkloadObject, r: Finished): string {
  const what = `${resourceOf(object.apiVersion, object.kind)} "${object.metadata.name}"`;
  return r.succeeded ? `${what} completed: ${r.message}` : `${what} failed: ${r.reason}: ${r.message}`;
}

/** `run -d`: pods created, each workload handed to a host process of its own. */
export async function startPlan(plan: Plan, o: Pick<PlanOptions, 'replace' | 'settings'>): Promise<number> {
  if (o.replace) await replaceExisting(plan);
  await createPods(plan, o.settings);
  for (const w of plan.workloads.filter((x) => x.kind.controller)) {
    const resource = resourceOf(w.object.apiVersion, w.kind.kind);
    const dir = WorkloadDir.create(recordOf(w.object, plan, o.settings), resource);
    const word = await startHost(dir);
    if (word !== 'ok') {
      dir.remove();
      process.stderr.write(`podbox: ${resource} "${w.object.metadata.name}": ${word.replace(/^error: /, '')}\n`);
      return 1;
    }
    process.stdout.write(`${resource}/${w.object.metadata.name} created\n`);
  }
  return 0;
}

/** Starts `podbox __workload KIND NAME`, detached, its output in the workload's host.log; returns its word. */
async function startHost(dir: WorkloadDir): Promise<string> {
  const { word } = await spawnDetachedAndAwaitWord(
    [cliPath, '__workload', dir.kind, dir.name],
    dir.file('host.log'),
    'error: its host process exited at once (see its host.log)',
  );
  return word;
}

/**
 * `podbox __workload KIND NAME`: the detached host of one workload. Says "ok" on fd 3 once it
 * hosts it; runs it to its end (SIGTERM: stops, leaving the pods to `podbox delete`); then, with
 * ttlSecondsAfterFinished, deletes it and its pods that long after (the TTL-after-finished
 * controller, pkg/controller/ttlafterfinished).
 */
export async function hostMain(kindName: string, name: string): Promise<number> {
  const entry = workloadKindByKind(kindName);
  const say = (w: string) => {
    try {
      writeSync(3, `${w}\n`);
      closeSync(3);
    } catch {
      /* started by hand: no pipe */
    }
  };
  const kind = entry && (await loadKind(entry));
  if (!kind?.controller) {
    say(`error: no workload kind ${kindName} with a controller`);
    return 1;
  }
  let dir: WorkloadDir;
  try {
    dir = WorkloadDir.open(kind.kind, name, resourceOf(kind.apiVersion, kind.kind));
  } catch (e) {
    say(`error: ${(e as Error).message}`);
    return 1;
  }
  const other = dir.host();
  if (other && other.pid !== process.pid && isAlive(other)) {
    say('ok');
    return 0;
  }
  dir.writeHost(thisProcess());
  // Its Warning events also go to its host.log (its stderr), where no terminal shows them.
  const host = new WorkloadHost(dir, kind, {
    event: (e) => {
      if (e.type === 'Warning') process.stderr.write(`podbox: ${dir.kind}/${name}: ${e.reason}: ${e.message}\n`);
    },
  });
  let stopped = false;
  const stop = () => {
    stopped = true;
    host.stop();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {});
  say('ok');
  const finished = await host.run();
  const ttl = (host.record.object.spec as { ttlSecondsAfterFinished?: number }).ttlSecondsAfterFinished;
  if (finished && ttl !== undefined) {
    await pollUntil(() => stopped, ttl * 1000, 200);
    if (!stopped) {
      await deleteOwnedPods(kind, host.record.object);
      dir.remove();
      return 0;
    }
  }
  dir.writeHost(undefined);
  return 0;
}

/**
 * `podbox delete KIND NAME`: the host stopped (a foreground run's own signal handling deletes
 * its pods then), the workload's pods deleted gracefully, then its directory.
 */
export async function deleteWorkload(
  kind: KindNames,
  name: string,
  o: { gracePeriod?: number; missingOk?: boolean } = {},
): Promise<boolean> {
  let dir: WorkloadDir;
  try {
    dir = WorkloadDir.open(kind.kind, name, resourceOf(kind.apiVersion, kind.kind));
  } catch (e) {
    if (o.missingOk && e instanceof PodboxError && e.code === 'WorkloadNotFound') return false;
    throw e;
  }
  const host = dir.host();
  if (host && host.pid !== process.pid && isAlive(host)) {
    try {
      process.kill(host.pid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
    await pollUntil(() => !isAlive(host), 120_000, 50);
  }
  let object: WorkloadObject | undefined;
  try {
    object = dir.record().object;
  } catch {
    // removed meanwhile by its foreground run
  }
  const entry = workloadKindByKind(kind.kind);
  if (object && entry) await deleteOwnedPods(await loadKind(entry), object, o.gracePeriod);
  dir.remove();
  return true;
}

/**
 * Workloads whose host is gone (killed, a reboot): a detached one gets a new host, which goes on
 * from the controller's snapshot; one of a foreground run that was killed is deleted with its pods,
 * as a foreground pod dies with its run. `podbox get` calls this before it looks.
 */
export async function reviveHosts(kind: WorkloadKind): Promise<void> {
  for (const dir of WorkloadDir.list(kind.kind)) {
    const host = dir.host();
    if (!host || isAlive(host)) continue;
    let record: WorkloadRecord;
    try {
      record = dir.record();
    } catch {
      continue;
    }
    if (record.foreground) {
      await deleteOwnedPods(kind, record.object, 0);
      dir.remove();
    } else await startHost(dir);
  }
}
