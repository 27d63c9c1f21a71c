import type { Pod } from '../api/types.js';
import type { LogStream } from '../logs/cri-log.js';
import { launchRequest } from '../pod/dir.js';
import { startDetached } from '../pod/launch.js';
import { deletePod } from '../pod/delete.js';
import { exchange } from '../lifecycle/supervisor-client.js';
import { pullSecretsOf } from '../registry/pull-secrets.js';
import type { Reconciled } from './controller.js';
import type { KindBehaviour, WorkloadKind, WorkloadObject } from './object.js';
import { withServicePorts } from './publish.js';
import { WorkloadDir, type WorkloadEvent, type WorkloadRecord } from './dir.js';
import { observedPod, ownedPods } from './observe.js';
import { randomIds } from './template.js';
import { PodboxError } from '../errors.js';

/**
 * The host of one workload: the loop that runs its controller (controller.ts) against real pods.
 *  1. observe the pods it owns (observe.ts) and call reconcile with the time;
 *  2. record what it said: status, events, the controller's snapshot (dir.ts);
 *  3. act: create pods as `run -d` does (through the user's supervisor, pod/launch.ts), each
 *     awaited so the next look sees it; delete pods gracefully in the background (pod/delete.ts),
 *     telling the controller they are terminating until they are gone;
 *  4. sleep until the controller's wakeAt, a pod deleted, or the next look (POLL_MS: the pods'
 *     states are files the supervisor writes), and go again, until the workload is finished.
 * A foreground `podbox run` hosts its workloads in its own process; `run -d` starts one detached
 * host process per workload (`podbox __workload KIND NAME`, host-main.ts), no daemon.
 */

const POLL_MS = 250;

export interface HostOptions {
  /** a line a pod's container wrote (a foreground run follows the pods it creates) */
  echo?: (pod: string, container: string, stream: LogStream, text: string) => void;
  /** an event of the workload, as it is recorded */
  event?: (e: WorkloadEvent) => void;
}

export type Finished = NonNullable<Reconciled['finished']>;

export class WorkloadHost {
  private readonly deleting = new Map<string, Promise<void>>();
  private readonly followers = new Set<Promise<unknown>>();
  /** host ports given to pods being created (publish.ts withServicePorts) */
  private readonly publishing = new Set<string>();
  /** why a Service's port was not published, each said once */
  private readonly skipped = new Set<string>();
  private poke?: () => void;
  private stopped = false;
  readonly record: WorkloadRecord;

  constructor(
    readonly dir: WorkloadDir,
    readonly kind: WorkloadKind,
    private readonly o: HostOptions = {},
  ) {
    this.record = dir.record();
  }

  /** The workload's end, or undefined once stop() was called. */
  async run(): Promise<Finished | undefined> {
    const { object } = this.record;
    if (!this.kind.controller) return undefined;
    const controller = this.kind.controller(object, {
      ids: randomIds,
      restored: this.dir.memory(),
      backoff: testingBackoff(this.record.settings.PODBOX_TESTING_JOB_BACKOFF),
    });
    const events = this.dir.events();
    for (;;) {
      if (this.stopped) return undefined;
      // Step 1: observe and decide.
      const observed = ownedPods(this.kind, object).map((v) => observedPod(v, this.deleting.has(v.dir.name)));
      const now = Date.now();
      const r = controller.reconcile(observed, now);
      // Step 2: record.
      const record = (e: Omit<WorkloadEvent, 'at'>) => {
        const event = { ...e, at: Date.now() };
        events.push(event);
        this.o.event?.(event);
      };
      for (const e of r.events ?? []) record(e);
      this.dir.writeStatus(r.status);
      if (controller.snapshot) this.dir.writeMemory(controller.snapshot());
      // Step 3: act.
      await Promise.all(
        r.actions.map(async (a) => {
          if ('create' in a) {
            // The Services that select the pod publish their ports through it (publish.ts).
            const { pod, skipped, ports } = withServicePorts(a.create, this.record.settings, this.publishing);
            for (const why of skipped) {
              if (this.skipped.has(why)) continue;
              this.skipped.add(why);
              record({ type: 'Warning', reason: 'PortNotPublished', message: why });
            }
            const error = await this.create(pod).finally(() => ports.forEach((p) => this.publishing.delete(p)));
            if (error) record({ type: 'Warning', reason: 'FailedCreate', message: `Error creating: ${error}` });
          } else if (!this.deleting.has(a.delete)) {
            const done = deletePod(a.delete, { missingOk: true })
              .then(
                () => {},
                () => {},
              )
              .finally(() => {
                this.deleting.delete(a.delete);
                this.poke?.();
              });
            this.deleting.set(a.delete, done);
          }
        }),
      );
      this.dir.writeEvents(events);
      if (r.finished && this.deleting.size === 0) {
        await Promise.all(this.followers);
        return r.finished;
      }
      // Step 4: sleep.
      const until = Math.min(r.wakeAt ?? Infinity, Date.now() + POLL_MS);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, until - Date.now()));
        this.poke = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.poke = undefined;
    }
  }

  /** Ends run() at its next step (a signal to a foreground run, `podbox delete` to a detached host). */
  stop(): void {
    this.stopped = true;
    this.poke?.();
  }

  /** A pod of the workload, made as `run -d` makes one; the error line if it could not be. */
  private async create(pod: Pod): Promise<string | undefined> {
    const { configMaps, secrets, claims, settings } = this.record;
    const manifest = {
      pod,
      original: pod,
      configMaps: new Map(configMaps.map((c) => [c.metadata.name, c])),
      secrets: new Map(secrets.map((s) => [s.metadata.name, s])),
      claims: new Map(claims.map((c) => [c.metadata.name, c])),
    };
    // Kept until the workload is deleted, as the controller's pods are in Kubernetes.
    const request = launchRequest(manifest, new Map(), false);
    request.pullSecrets = pullSecretsOf(manifest);
    request.settings = settings;
    const echo = this.o.echo;
    if (!echo) return startDetached(request).catch((e: unknown) => (e instanceof PodboxError ? e.toLine() : String(e)));
    // Followed, so a foreground run shows every pod's lines (not the run's own pod: closing the
    // connection leaves the pod be).
    return new Promise<string | undefined>((resolve) => {
      let created = false;
      const name = pod.metadata.name;
      const following = exchange({ op: 'run', request, follow: true }, (r) => {
        switch (r.type) {
          case 'created':
            created = true;
            resolve(undefined);
            return false;
          case 'error':
            if (!created) resolve(r.line);
            return true;
          case 'echo':
            echo(name, r.container, r.stream, r.text);
            return false;
          case 'finished':
            return true;
          default:
            return false;
        }
      }).then(
        () => {
          if (!created) resolve(`the supervisor of pod "${name}" stopped while creating it`);
        },
        (e: unknown) => resolve(e instanceof PodboxError ? e.toLine() : String(e)),
      );
      this.followers.add(following);
      void following.finally(() => this.followers.delete(following));
    });
  }
}

/**
 * Deletes every pod a workload owns, gracefully and in parallel (as the garbage collector deletes
 * a Job's dependents with propagationPolicy Background), and waits until they are gone.
 */
export async function deleteOwnedPods(
  kind: Pick<KindBehaviour, 'owns'>,
  object: WorkloadObject,
  grace?: number,
): Promise<number> {
  const pods = ownedPods(kind, object).map((v) => v.dir.name);
  await Promise.all(pods.map((name) => deletePod(name, { gracePeriod: grace, missingOk: true }).catch(() => false)));
  return pods.length;
}

/** PODBOX_TESTING_JOB_BACKOFF="INITIAL,MAX" (seconds, decimals allowed): a shorter pod-failure backoff for tests. */
function testingBackoff(knob: string | undefined): { initialMs: number; maxMs: number } | undefined {
  const [initial, max] = (knob ?? '').split(',').map(Number);
  if (!knob || !Number.isFinite(initial) || !Number.isFinite(max)) return undefined;
  return { initialMs: initial! * 1000, maxMs: max! * 1000 };
}
