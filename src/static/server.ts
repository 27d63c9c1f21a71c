import { watch, type FSWatcher } from 'node:fs';
import { PodDir, launchRequest, podsDir } from '../pod/dir.js';
import { view, isLost } from '../pod/view.js';
import { deletePod } from '../pod/delete.js';
import { startDetached } from '../pod/launch.js';
import { exchange } from '../lifecycle/supervisor-client.js';
import { podSettingsFromEnv } from '../lifecycle/pod-settings.js';
import { pullSecretsOf } from '../registry/pull-secrets.js';
import { isPodboxError } from '../errors.js';
import { readSource, type SourceFile } from './file-source.js';
import { plan, type Action, type ObservedPod } from './reconcile.js';
import { staticSourceOf } from './static-pod.js';
import { ServeState } from './serve-state.js';

/**
 * The kubelet checks its static pod path every fileCheckFrequency, 20 s by default
 * (KubeletConfiguration.fileCheckFrequency), besides watching it with inotify (file_linux.go).
 */
export const FILE_CHECK_FREQUENCY_MS = 20_000;
/** Changes that come together (an editor's write, rename and chmod) are read once. */
const DEBOUNCE_MS = 100;

export interface ServeOptions {
  /** on stop, leave the pods running for a later serve of DIR to adopt */
  keepPods: boolean;
  /** one line of what serve does (the caller adds where it goes: stderr, or the log of `serve -d`) */
  log: (line: string) => void;
  /** called once DIR is locked and its first pass began: a `serve -d` then returns */
  ready?: () => void;
  /** resolves when serve is to stop (SIGINT/SIGTERM) */
  stop: Promise<void>;
}

/**
 * `podbox serve DIR`: keeps the pods of DIR's manifests running, as the kubelet keeps a node's
 * static pods (https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/):
 *  1. lock DIR (one serve per directory); forget what an earlier serve's `delete --force` held
 *  2. pass: read every file, look at the pods, plan (static/reconcile.ts), perform; a pod with an
 *     action under way (a graceful deletion can take its grace period) is left out of later passes
 *     until it is done
 *  3. a pass again when DIR or the pods directory changes (inotify), when an action ends, and every
 *     FILE_CHECK_FREQUENCY_MS
 *  4. on stop: wait for the actions under way, delete DIR's pods gracefully (unless keepPods), unlock
 * Pods are made and deleted through the user's supervisor, as `podbox run -d` and `podbox delete` do;
 * a pod's restarts are its supervisor's, per its restartPolicy.
 */
export async function serve(dir: string, o: ServeOptions): Promise<void> {
  // Step 1
  const state = ServeState.of(dir);
  const unlock = state.lock();
  try {
    state.releaseAll();
    const server = new StaticPodServer(dir, state, o.log);
    const watchers = [dir, podsDir()].map((d) => watchDir(d, () => server.schedule()));
    const rescan = setInterval(() => server.schedule(), FILE_CHECK_FREQUENCY_MS);
    try {
      // Step 2
      o.log(`serving ${dir}`);
      server.pass();
      o.ready?.();
      await o.stop;
    } finally {
      // Step 4
      clearInterval(rescan);
      for (const w of watchers) w.close();
      await server.stop(o.keepPods);
    }
  } finally {
    unlock();
  }
}

/** An inotify watch of a directory's entries (not recursive); errors (DIR removed) leave it to the rescan. */
function watchDir(dir: string, changed: () => void): FSWatcher {
  const w = watch(dir, { persistent: false }, changed);
  w.on('error', () => {});
  return w;
}

class StaticPodServer {
  private timer?: NodeJS.Timeout;
  private stopping = false;
  /** pod name → its action under way */
  private readonly busy = new Map<string, Promise<void>>();
  /** what was last said about a file (a problem, a conflict): said again only when it changes */
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly state: ServeState,
    private readonly log: (line: string) => void,
  ) {}

  /** Step 3: a pass soon, once changes stop coming for DEBOUNCE_MS. */
  schedule(): void {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      try {
        this.pass();
      } catch (e) {
        // Serve goes on (the next change or rescan tries again); what broke is said.
        this.log(`pass over ${this.dir} failed: ${(e as Error).message}`);
      }
    }, DEBOUNCE_MS);
  }

  /** Step 2: one pass over the files and the pods. */
  pass(): void {
    if (this.stopping) return;
    let files: SourceFile[];
    try {
      files = readSource(this.dir, new Date());
    } catch (e) {
      // DIR unreadable or gone: the pods stay as they are (the kubelet would drop them all), said once.
      this.report('', `cannot read ${this.dir}: ${(e as Error).message}: its pods are left as they are`);
      return;
    }
    const actions = plan(this.dir, files, this.observe(), this.state.held());
    const said = new Set<string>();
    for (const a of actions) {
      if (a.type === 'problem' || a.type === 'conflict') said.add(a.file);
      this.perform(a, files);
    }
    // A file fixed, or removed, is reported again when it breaks again.
    for (const file of [...this.reported.keys()]) if (!said.has(file)) this.reported.delete(file);
  }

  /** Every pod of the pods directory; pods being created or deleted meanwhile are skipped. */
  private observe(): ObservedPod[] {
    const out: ObservedPod[] = [];
    for (const d of PodDir.list()) {
      try {
        const v = view(d);
        out.push({ name: d.name, source: staticSourceOf(v.record.pod), lost: isLost(v) });
      } catch {
        /* half made or half removed */
      }
    }
    return out;
  }

  private perform(a: Action, files: SourceFile[]): void {
    const made = (file: string) => files.find((f) => f.file === file && 'manifest' in f);
    switch (a.type) {
      case 'problem':
        if (this.report(a.file, a.problem) && a.pod) void this.warn(a.pod, a.problem);
        return;
      case 'conflict':
        this.report(a.file, `${a.file}: pod "${a.name}" exists and was made by ${a.owner}: left alone`);
        return;
      case 'release':
        this.state.release(a.name);
        return;
      case 'create':
        return this.act(a.name, () => this.create(made(a.file)!));
      case 'replace':
        return this.act(a.name, async () => {
          this.log(
            `pod "${a.name}": ${a.why === 'lost' ? 'its processes are gone' : `${a.file} changed`}: replacing it`,
          );
          await deletePod(a.name, { missingOk: true });
          await this.create(made(a.file)!);
        });
      case 'delete':
        return this.act(a.name, async () => {
          await deletePod(a.name, { missingOk: true });
          this.log(`pod "${a.name}" deleted: ${a.why}`);
        });
    }
  }

  /** Says a line about a file unless it was the last thing said about it; true if said. */
  private report(file: string, line: string): boolean {
    if (this.reported.get(file) === line) return false;
    this.reported.set(file, line);
    this.log(line);
    return true;
  }

  /** Runs a pod's action, unless one is under way; a pass follows its end. */
  private act(name: string, f: () => Promise<void>): void {
    if (this.busy.has(name)) return;
    const done = f()
      .catch((e: unknown) => this.log(`pod "${name}": ${isPodboxError(e) ? e.toLine() : (e as Error).message}`))
      .finally(() => {
        this.busy.delete(name);
        this.schedule();
      });
    this.busy.set(name, done);
  }

  private async create(f: SourceFile): Promise<void> {
    if (!('manifest' in f)) return;
    const request = launchRequest(f.manifest, new Map(), false);
    request.pullSecrets = pullSecretsOf(f.manifest);
    request.settings = podSettingsFromEnv();
    const error = await startDetached(request);
    if (error) this.log(`pod "${f.name}" of ${f.file} not created: ${error}`);
    else this.log(`pod "${f.name}" created from ${f.file}`);
  }

  /** A Warning event on the pod, which `describe` shows (the supervisor owns its events). */
  private async warn(pod: string, message: string): Promise<void> {
    try {
      await exchange({ op: 'warn', name: pod, reason: 'InvalidManifest', message }, (r) => r.type === 'recorded');
    } catch {
      /* the pod went meanwhile: the log line stays */
    }
  }

  /** Step 4 */
  async stop(keepPods: boolean): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await Promise.all(this.busy.values());
    if (keepPods) return;
    const ours = this.observe().filter((p) => p.source?.dir === this.dir);
    await Promise.all(
      ours.map(async (p) => {
        try {
          await deletePod(p.name, { missingOk: true });
          this.log(`pod "${p.name}" deleted: serve stopped`);
        } catch (e) {
          this.log(`pod "${p.name}": ${isPodboxError(e) ? e.toLine() : (e as Error).message}`);
        }
      }),
    );
  }
}
