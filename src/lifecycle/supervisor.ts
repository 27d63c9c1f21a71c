import type { Manifest } from '../api/types.js';
import { containerNamed } from '../api/containers.js';
import { POD_IP } from '../api/node.js';
import type { HandlerTarget } from '../probe/types.js';
import { pollUntil } from '../host/poll.js';
import type { StoredImage } from '../image/store.js';
import { PodMachine, PROBE_FIELD, podRef, type Action } from './pod-machine.js';
import { backoffPolicy, systemClock } from './timing.js';
import { createSandbox, mountInPod, tmpfsMount, type Sandbox } from '../sandbox/sandbox.js';
import { native } from '../sandbox/native.js';
import { removeTrees } from '../sandbox/userns.js';
import { writePodFiles, podHostname } from '../sandbox/pod-files.js';
import { prepareVolumes } from '../volume/volumes.js';
import { Runc, containerId } from '../container/runc.js';
import { startContainer, type PodContext } from '../container/start.js';
import { ContainerConfigError } from '../container/bundle.js';
import { readTerminationMessage } from '../container/termination-message.js';
import { statusImageID } from '../image/resolve.js';
import type { LogSink, LogStream } from '../logs/cri-log.js';
import { PodDir, recordOf, manifestOf, type LaunchRequest, type RuntimeInfo } from '../pod/dir.js';
import { alive, childOf } from '../host/proc.js';
import { PodboxError } from '../errors.js';

/**
 * The supervisor of one pod: it performs what the pod's state machine decides, against the
 * kernel and runc, and feeds back what happened. A foreground `podbox run` is the supervisor;
 * `podbox run -d` starts one in the background. When it dies, the pod dies with it (pause has
 * PR_SET_PDEATHSIG, and everything of the pod is in pause's PID namespace).
 */
export interface SuperviseOptions {
  /** the pod, its objects and options, as `podbox run` read them */
  request: LaunchRequest;
  /** container name → its image, resolved before the sandbox is made */
  images: Map<string, StoredImage>;
  /** `podbox run -d`'s pid, when it launched this supervisor: its launch log becomes supervisor.log */
  launchedBy?: number;
  /** foreground: print each line of each container */
  echo?: (container: string, stream: LogStream, text: string) => void;
  /** called once the pod is created and its first containers are started (or it failed to) */
  onCreated?: (error?: PodboxError) => void;
}

/**
 * One pod, start to end (as kubelet's SyncPod, but for the pod's whole life):
 *  0. with the signal handlers in place, claim the pod's name: its directory and record, naming
 *     this process as its supervisor, before any process of the pod exists (pod/dir.ts create)
 *  1. create the sandbox (pause + namespaces), the pod's files and volumes; a signal that comes
 *     meanwhile is acted on once the sandbox exists (or its creation failed)
 *  2. loop: perform machine.actions() (start, probe, hook, kill, teardown), then sleep until
 *     machine.wakeAt() or an event (a container exits, a probe answers, a signal)
 *  3. on SIGTERM/SIGINT (`podbox delete`, Ctrl-C), or when the pod's directory disappears (its
 *     runtime dir removed at logout): machine.deleteRequested(grace); when pause dies:
 *     machine.sandboxDied()
 *  4. on the machine's `teardown`: stop pause (the kernel kills the rest), flush the logs, write
 *     the final state, remove what only a running pod needs
 * Returns the exit status `podbox run` reports.
 */
export async function supervise(o: SuperviseOptions): Promise<number> {
  return new Supervisor(o).run();
}

class Supervisor {
  private readonly machine: PodMachine;
  private readonly manifest: Manifest;
  private readonly runtime: RuntimeInfo = { containers: {}, finished: false };
  private dir?: PodDir;
  private pod!: PodContext;
  /** a signal that came before the sandbox existed, acted on once it does */
  private pendingSignal?: NodeJS.Signals;
  private dirWatch?: NodeJS.Timeout;
  /** a save that failed (disk full) is tried again */
  private saveRetry?: NodeJS.Timeout;
  private sandbox?: Sandbox;
  private signalExit?: number;
  private tearingDown = false;
  private wakeTimer?: NodeJS.Timeout;
  private chain = Promise.resolve();
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** every log sink still draining, and the current one of each container (for hook output) */
  private readonly draining = new Set<Promise<void>>();
  private readonly sinks = new Map<string, LogSink>();
  /** runc ids known to be running: `runc run` returns before the process exists, and an exec needs it */
  private readonly knownRunning = new Set<string>();
  /** the config errors a foreground run has printed, each once */
  private readonly configErrorsSaid = new Set<string>();

  constructor(private readonly o: SuperviseOptions) {
    this.manifest = manifestOf(o.request);
    this.machine = new PodMachine(this.manifest.pod, systemClock, backoffPolicy());
    this.done = new Promise<void>((r) => (this.resolveDone = r));
  }

  async run(): Promise<number> {
    const onSignal = (sig: NodeJS.Signals) => this.onSignal(sig);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await this.live();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  private async live(): Promise<number> {
    const name = this.manifest.pod.metadata.name;
    // Step 0: the name.
    try {
      this.dir = PodDir.create(recordOf(this.o.request));
    } catch (e) {
      if (e instanceof PodboxError) this.o.onCreated?.(e);
      throw e;
    }
    if (this.o.launchedBy !== undefined) this.dir.adoptLaunchLog(this.o.launchedBy);
    // Step 1: the sandbox.
    try {
      if (this.pendingSignal)
        throw new PodboxError('SandboxFailed', `pod "${name}" was deleted while it was being created`);
      await this.createSandbox(this.dir);
    } catch (e) {
      await this.teardown();
      const err =
        e instanceof PodboxError
          ? e
          : new PodboxError('SandboxFailed', `pod "${name}": ${(e as Error).message}`, 'run `podbox doctor`');
      this.o.onCreated?.(err);
      if (this.signalExit !== undefined) return this.signalExit;
      throw err;
    }
    this.runtime.created = true;
    this.watchDir(this.dir);
    if (this.pendingSignal) this.onSignal(this.pendingSignal);
    // Step 2: the loop, until step 4 resolves `done`.
    this.kick();
    await this.chain;
    this.o.onCreated?.();
    await this.done;
    return this.signalExit ?? this.machine.exitCode();
  }

  private save(): void {
    // Only into our own directory: after a logout another pod may have the same path.
    if (!this.dir?.stillOurs()) return;
    try {
      this.dir.writeState({ status: this.machine.status(), runtime: this.runtime });
      this.dir.writeEvents(this.machine.eventLog());
    } catch {
      // Disk full or an I/O error: the pod keeps running (as the kubelet keeps pods running when
      // it cannot write), the previous status stays readable, and this one is written again in a
      // second (nothing else may happen in the pod to cause a save).
      if (!this.saveRetry && !this.tearingDown) {
        this.saveRetry = setTimeout(() => {
          this.saveRetry = undefined;
          this.save();
        }, 1000);
      }
    }
  }

  /**
   * Step 3's other cause: the pod's directory removed under it (its runtime dir removed at logout,
   * or by hand). The pod is deleted with its own grace period: nobody could see or delete it else.
   */
  private watchDir(dir: PodDir): void {
    this.dirWatch = setInterval(() => {
      if (this.tearingDown || dir.stillOurs()) return;
      process.stderr.write(`podbox: pod "${dir.name}": its directory ${dir.path} was removed; deleting the pod\n`);
      this.machine.deleteRequested(this.manifest.pod.spec.terminationGracePeriodSeconds);
      this.kick();
    }, 1000);
    this.dirWatch.unref();
  }

  private async createSandbox(dir: PodDir): Promise<void> {
    const manifest = this.manifest;
    const pod = manifest.pod;
    this.save();
    this.sandbox = await createSandbox({
      hostname: podHostname(pod),
      name: pod.metadata.name,
      podDir: dir.path,
      exitsFile: dir.file('exits'),
    });
    const sandbox = this.sandbox;
    this.runtime.pausePid = sandbox.pid;
    const podFiles = writePodFiles(dir.path, pod, POD_IP);
    const prepared = prepareVolumes(dir.path, manifest);
    const memoryMounts = [tmpfsMount(podFiles.shm, 64 * 1024 * 1024), ...prepared.mounts];
    mountInPod(sandbox.pid, `pod "${pod.metadata.name}": mount /dev/shm and memory volumes`, memoryMounts);
    this.pod = {
      manifest,
      podDir: dir.path,
      pausePid: sandbox.pid,
      runc: new Runc(sandbox.pid, dir.file('runc')),
      podFiles,
      volumes: prepared.volumes,
    };
    this.machine.sandboxReady();
    for (const [name, img] of this.o.images) {
      this.machine.imageResolved(name, statusImageID(img, containerNamed(pod, name).image));
    }
    void sandbox.exited.then((how) => {
      if (this.tearingDown) return;
      this.sandboxDied(how);
      this.kick();
    });
  }

  /**
   * pause died (killed, or out of memory): the kernel killed every process of the pod with it and
   * its namespaces are gone, so nothing can be restarted. The kubelet would make a new sandbox
   * (SandboxChanged); podbox fails the pod and says why.
   */
  private sandboxDied(how?: { code: number | null; signal: number | null }): void {
    if (this.machine.sandboxIsDead()) return;
    const pid = this.pod.pausePid;
    const cause = how?.signal ? `was killed by signal ${how.signal}` : how ? `exited with code ${how.code}` : 'died';
    const message = `the pod's pause process (pid ${pid}) ${cause}: the pod's namespaces and every container died with it`;
    process.stderr.write(`podbox: pod "${this.manifest.pod.metadata.name}": ${message}; the pod has failed\n`);
    this.machine.sandboxDied(message);
  }

  /** Runs the loop once more after whatever it is doing now (step 2). */
  private kick = (): void => {
    this.chain = this.chain
      .then(() => this.pump())
      .catch(async (e) => {
        const name = this.manifest.pod.metadata.name;
        process.stderr.write(`podbox: pod "${name}": ${e instanceof PodboxError ? e.toLine() : (e as Error).stack}\n`);
        if (!this.tearingDown) await this.teardown();
      });
  };

  private async pump(): Promise<void> {
    if (this.tearingDown) return;
    for (let actions = this.machine.actions(); actions.length; actions = this.machine.actions()) {
      for (const a of actions) await this.perform(a);
      if (this.tearingDown) return;
    }
    this.save();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const at = this.machine.wakeAt();
    if (at !== undefined) this.wakeTimer = setTimeout(this.kick, Math.max(0, at - Date.now()));
  }

  private async perform(a: Action): Promise<void> {
    switch (a.type) {
      case 'start':
        await this.start(a.container, a.instance);
        break;
      case 'probe':
      case 'hook':
        // Probes and hooks run beside the pod's other work; their result comes back as an event.
        // A handler that throws (it should not) counts as failed, so the machine never waits on it.
        void this.runHandler(a)
          .catch((e: Error) => {
            if (a.type === 'probe') this.machine.probeResult(a.container, a.instance, a.probe, false, e.message);
            else this.machine.hookDone(a.container, a.instance, a.hook, false, e.message);
          })
          .then(this.kick);
        break;
      case 'kill':
        await this.kill(a.container, a.signal);
        break;
      case 'teardown':
        await this.teardown();
        break;
    }
  }

  /** Step 3: a signal asks for the pod's deletion, with `podbox delete`'s grace period if it gave one. */
  private onSignal(sig: NodeJS.Signals): void {
    if (this.tearingDown) return;
    if (this.signalExit === undefined) this.signalExit = sig === 'SIGINT' ? 130 : 143;
    if (!this.runtime.created) {
      // Step 1 is under way: it acts on this once the sandbox exists (or gives up).
      this.pendingSignal = sig;
      return;
    }
    let grace = this.dir?.deleteRequest()?.gracePeriodSeconds ?? this.manifest.pod.spec.terminationGracePeriodSeconds;
    // A second Ctrl-C does not wait for the grace period.
    if (this.machine.isDeleting() && sig === 'SIGINT') grace = 0;
    this.machine.deleteRequested(grace);
    this.kick();
  }

  private async start(name: string, instance: number): Promise<void> {
    const echo = this.o.echo;
    try {
      const { runcPid, sink } = await startContainer(this.pod, name, instance, this.o.images.get(name)!, {
        file: this.dir!.logFile(name, instance),
        echo: echo && ((stream, text) => echo(name, stream, text)),
        onLost: (lines, e) => {
          this.machine.logLinesLost(name, lines, e.message);
          this.kick();
        },
      });
      const closed = sink.closed();
      this.draining.add(closed);
      this.sinks.set(name, sink);
      this.runtime.containers[name] = { runcPid, instance };
      const id = containerId(name, instance);
      this.machine.started(name, `runc://${id}`);
      void native().watchExit(runcPid, async (code, signal) => {
        await closed;
        this.draining.delete(closed);
        delete this.runtime.containers[name]?.runcPid;
        // pause gone too (a zombie until reaped): the container died with its sandbox.
        if (!alive(this.pod.pausePid)) this.sandboxDied(await this.sandbox!.exited);
        const startError = code !== 0 ? this.pod.runc.startError(id) : undefined;
        if (startError) {
          // runc could not start it: the kubelet's StartError (exit code 128).
          echo?.(name, 'stderr', `podbox: cannot start container: ${startError}`);
          this.machine.startFailed(name, startError);
        } else {
          // runc run exits with the container's status, 128+N when a signal N killed it.
          const exitCode = code ?? 128 + (signal ?? 0);
          const c = containerNamed(this.manifest.pod, name);
          const message = readTerminationMessage(this.pod.podDir, c, exitCode, this.dir!.logFile(name, instance));
          this.machine.exited(name, exitCode, undefined, undefined, message);
        }
        this.kick();
      });
    } catch (e) {
      if (e instanceof ContainerConfigError) return this.configFailed(e);
      const msg = (e as Error).message;
      this.machine.startFailed(name, msg);
      echo?.(name, 'stderr', `podbox: cannot start container: ${msg}`);
    }
  }

  /** A container that cannot be made waits and is retried; a foreground run says so once per cause. */
  private configFailed(e: ContainerConfigError): void {
    this.machine.configFailed(e.container, e.reason, e.detail);
    const said = `${e.container}\n${e.detail}`;
    if (this.configErrorsSaid.has(said)) return;
    this.configErrorsSaid.add(said);
    this.o.echo?.(e.container, 'stderr', `podbox: cannot create container: ${e.reason}: ${e.detail}; retrying`);
  }

  private async untilRunning(id: string): Promise<void> {
    if (this.knownRunning.has(id)) return;
    const running = async () => (await this.pod.runc.state(id))?.status === 'running';
    if (await pollUntil(running, 10_000, 20)) this.knownRunning.add(id);
  }

  /** Runs a probe or hook for the machine and reports its result (probe/run.ts does the work). */
  private async runHandler(a: Extract<Action, { type: 'probe' | 'hook' }>): Promise<void> {
    // Loaded on first use: http, https, http2 and tls cost a pod without probes or hooks nothing.
    const { runProbe, runHook, hookFailureMessage } = await import('../probe/run.js');
    const c = containerNamed(this.manifest.pod, a.container);
    const id = containerId(a.container, a.instance);
    const target: HandlerTarget = {
      pausePid: this.pod.pausePid,
      runc: this.pod.runc,
      containerId: id,
      container: c,
      podIP: POD_IP,
    };
    if (a.type === 'probe') {
      const probe = c[PROBE_FIELD[a.probe]]!;
      if (probe.exec) await this.untilRunning(id);
      const r = await runProbe(probe, target);
      this.machine.probeResult(a.container, a.instance, a.probe, r.ok, r.message);
      return;
    }
    const handler = c.lifecycle![a.hook]!;
    if (handler.exec) await this.untilRunning(id);
    const r = await runHook(handler, target, a.timeoutSeconds);
    // Hook output goes to the container's log, marked (the kubelet drops it; users want it).
    const sink = this.sinks.get(a.container);
    for (const line of (r.output ?? '').split('\n').filter(Boolean)) sink?.line('stdout', `[${a.hook} hook] ${line}`);
    const message = r.ok ? '' : hookFailureMessage(handler, a.container, podRef(this.manifest.pod), r);
    this.machine.hookDone(a.container, a.instance, a.hook, r.ok, message);
  }

  private async kill(name: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const info = this.runtime.containers[name];
    if (!info?.runcPid) return;
    // The image's STOPSIGNAL replaces SIGTERM (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/).
    const sig = signal === 'SIGTERM' ? this.o.images.get(name)?.config.StopSignal || 'SIGTERM' : 'SIGKILL';
    const direct = () => {
      // runc's state went with the pod's directory: signal the container's first process directly.
      const init = info.runcPid !== undefined ? childOf(info.runcPid) : undefined;
      try {
        if (init !== undefined) process.kill(init, sig);
      } catch {
        /* gone */
      }
    };
    // (runc would make its state directory again, inside a pod directory that is gone.)
    if (!this.dir?.stillOurs()) return direct();
    await this.pod.runc.kill(containerId(name, info.instance), sig).catch(direct);
  }

  /** Step 4. Every part runs whatever the others did: a supervisor never hangs in teardown. */
  private async teardown(): Promise<void> {
    this.tearingDown = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.dirWatch) clearInterval(this.dirWatch);
    if (this.saveRetry) clearTimeout(this.saveRetry);
    try {
      if (this.sandbox) {
        // pause exits on SIGTERM; the kernel then kills whatever is left in the pod's PID namespace,
        // and the mount namespace, with every overlay and tmpfs of the pod, goes with the last process.
        try {
          process.kill(this.sandbox.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        await this.sandbox.exited;
      }
      await Promise.all(this.draining);
      this.runtime.finished = true;
      this.runtime.exitCode = this.signalExit ?? this.machine.exitCode();
      this.save();
      const dir = this.dir;
      if (dir && !dir.isPinnedDir()) dir.removeEmptyRemains();
      if (dir?.isPinnedDir()) {
        // A pod that was never created leaves nothing; a finished one keeps its status, events and
        // logs until `podbox delete`, without what only a running pod needs.
        if (this.o.request.removeWhenDone || !this.runtime.created || !dir.stillOurs()) await removeTrees([dir.path]);
        else await removeTrees(['containers', 'volumes', 'runc', 'runc-logs', 'shm', 'root'].map((d) => dir.file(d)));
      }
    } catch (e) {
      process.stderr.write(`podbox: pod "${this.manifest.pod.metadata.name}": teardown: ${(e as Error).message}\n`);
    } finally {
      this.resolveDone();
    }
  }
}
