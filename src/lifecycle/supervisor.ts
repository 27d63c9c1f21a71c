import { closeSync, openSync, watch } from 'node:fs';
import type { Manifest } from '../api/types.js';
import { containerNamed } from '../api/containers.js';
import type { HandlerTarget } from '../probe/types.js';
import { pollUntil } from '../host/poll.js';
import { ImageStore, type StoredImage } from '../image/store.js';
import { PodMachine, PROBE_FIELD, podRef, type Action } from './pod-machine.js';
import type { MachineSnapshot } from './machine-snapshot.js';
import { backoffPolicy, systemClock } from './timing.js';
import { PodRejected } from './admission.js';
import { createSandbox, mountInPod, tmpfsMount } from '../sandbox/sandbox.js';
import { bothUp, discardPreparedPodNetwork, joinPodNetwork, onPodNetwork } from '../sandbox/pod-bridge.js';
import { stateDirs } from '../paths.js';
import { native } from '../sandbox/native.js';
import { removeTrees, removeTreesAfterPod } from '../sandbox/userns.js';
import { readExitRecordsFrom, type ExitRecord } from '../sandbox/exit-records.js';
import { writePodFiles, podHostname } from '../sandbox/pod-files.js';
import { podDns, readHostResolvConf } from '../sandbox/resolv-conf.js';
import { DnsRelay, planDnsRelay } from '../sandbox/dns-relay.js';
import {
  networkModeOf,
  planNetwork,
  releaseNetwork,
  stackAlive,
  stackConfigured,
  signalStack,
  startStack,
  stopStack,
} from '../sandbox/network.js';
import { prepareVolumes } from '../volume/volumes.js';
import { ensureVolumeImages } from '../volume/image-volume.js';
import { EMPTY_DIR_CHECK_MS, emptyDirOverLimit, limitedEmptyDirs } from '../volume/empty-dir-limit.js';
import { nodeAllocatable } from '../api/resource-field.js';
import { Runc, containerId } from '../container/runc.js';
import { startContainer, attachOutput, type PodContext } from '../container/start.js';
import { removeContainerOutput, OUTPUT_DIR } from '../container/output.js';
import { ContainerConfigError } from '../container/bundle.js';
import { VolumeMountError } from '../volume/host-path.js';
import { readTerminationMessage } from '../container/termination-message.js';
import { ImagePuller, insecureFor, storeLookup } from './image-puller.js';
import { ERR_IMAGE_NEVER_PULL, ERR_IMAGE_PULL } from './image-pulls.js';
import type { PullProgress } from '../image/pull.js';
import type { PodStatus } from '../api/status.js';
import type { LogSink, LogStream } from '../logs/cri-log.js';
import { containerLogPolicy } from '../logs/log-file.js';
import {
  PodDir,
  podsDir,
  recordOf,
  manifestOf,
  isAlive,
  type LaunchRequest,
  type PodRecord,
  type RuntimeInfo,
} from '../pod/dir.js';
import { alive, hostPidOfChild, processStartTime } from '../host/proc.js';
import { PodboxError } from '../errors.js';
import { Tracer, traced, type TraceEvent } from '../host/trace.js';
import { traceContainerExited, traceSandboxEnd } from '../sandbox/trace-steps.js';
import { notEnforcedEvent, setUpPodLimits } from '../cgroup/pod-limits.js';
import { oomKilled, OOM_EVENT, OOM_KILLED, removeFlatContainerCgroups, removePodLimits } from '../cgroup/pod-exit.js';

/**
 * The supervisor of one pod: it performs what the pod's state machine decides, against the kernel
 * and runc, and feeds back what happened. The user's supervisor process (user-supervisor.ts) holds
 * one of these per pod. Pods outlive it: everything a successor needs to adopt a pod is in the
 * pod's directory (the machine's snapshot, pause's pid, each container's pid, how far pause's exit
 * records were read), and the containers' output waits in FIFOs meanwhile (container/output.ts).
 *
 * One pod, start to end (as kubelet's SyncPod, but for the pod's whole life):
 *  0. claim the pod's name: its directory and record, before any process of the pod exists
 *     (pod/dir.ts create)
 *  1. create the sandbox (pause + namespaces), the pod's files and volumes; a deletion asked for
 *     meanwhile is acted on once the sandbox exists (or its creation failed)
 *  2. loop: perform machine.actions() (start, probe, hook, kill, teardown), then sleep until
 *     machine.wakeAt() or an event (pause records an exit, a probe answers, a deletion is asked for)
 *  3. deletion (`podbox delete`, Ctrl-C of a foreground run, that run gone, or the pod's directory
 *     removed): machine.deleteRequested(grace); pause dies: machine.sandboxDied()
 *  4. on the machine's `teardown`: stop pause (the kernel kills the rest), flush the logs, write
 *     the final state, remove what only a running pod needs
 * `adopt` enters at step 2 with a pod another supervisor made.
 */
export interface PodListener {
  /** a line of a container's output (a foreground run prints it) */
  echo(container: string, stream: LogStream, text: string): void;
  /** how a pull of the pod's goes (a foreground run on a terminal draws it) */
  progress?(image: string, p: PullProgress): void;
  /** a container terminated (`run --exit-code-from`) */
  exited?(container: string, exitCode: number): void;
  /** a container was sent its stop signal; SIGKILL comes after graceSeconds unless it exits */
  stopping?(container: string, signal: string, graceSeconds: number): void;
}

export class PodSupervisor {
  readonly name: string;
  private readonly machine: PodMachine;
  private readonly manifest: Manifest;
  /** container → the image its current instance runs */
  private readonly images = new Map<string, StoredImage>();
  private readonly puller: ImagePuller;
  private readonly runtime: RuntimeInfo;
  private dir?: PodDir;
  private pod!: PodContext;
  private exitsFile?: string;
  /** the exits file, open: still readable after the pod's directory is removed */
  private exitsFd?: number;
  /** exit records of pids not (yet) known as a container's: a container may exit before runc's pid file is read */
  private readonly unclaimedExits = new Map<number, ExitRecord>();
  /** a deletion asked for before the sandbox existed, acted on once it does */
  private pendingDelete?: { grace?: number };
  /** The pod's network stack coming up (createSandbox): its failure, if it failed. */
  private stackUp?: Promise<PodboxError | undefined>;
  /** settles when the containers may start: the stack has configured the pod's interface (network.ts) */
  private stackConfigured?: Promise<PodboxError | undefined>;
  /** the pod's DNS relay, when its node resolvers are on the node's loopback (dns-relay.ts) */
  private dnsRelay?: DnsRelay;
  /** the pod was not admitted (lifecycle/admission.ts) */
  private rejection?: PodRejected;
  private ticker?: NodeJS.Timeout;
  private emptyDirTimer?: NodeJS.Timeout;
  private exitsWatch?: { close(): void };
  /** a save that failed (disk full) is tried again */
  private saveRetry?: NodeJS.Timeout;
  private tearingDown = false;
  private wakeTimer?: NodeJS.Timeout;
  private chain = Promise.resolve();
  /** resolves with the pod's exit status once it is torn down */
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;
  private readonly draining = new Set<Promise<void>>();
  private readonly sinks = new Map<string, LogSink>();
  /** runc ids known to be running: an exec needs the process to exist */
  private readonly knownRunning = new Set<string>();
  private readonly configErrorsSaid = new Set<string>();
  private readonly listeners = new Set<PodListener>();
  /**
   * The pod of a foreground run that supervises in its own process (user-supervisor.ts hosting):
   * its pause dies with that process (PR_SET_PDEATHSIG), as the run's pod must when the run is killed.
   */
  private dieWithRun = false;
  /** handed over to another supervisor: this one does nothing more to the pod (see release) */
  private released = false;
  /** output of a foreground pod while no run follows it (see echo) */
  private unheard?: [string, LogStream, string][];
  /** where the pod's kernel steps go while someone traces it (host/trace.ts): the pod's work runs traced */
  private readonly traceSinks = new Set<(e: TraceEvent) => void>();
  private readonly tracer: Tracer;

  private constructor(
    private readonly record: LaunchRequest | PodRecord,
    runtime?: RuntimeInfo,
  ) {
    this.manifest = manifestOf(record);
    this.name = this.manifest.pod.metadata.name;
    this.tracer = new Tracer(
      (e) => {
        for (const sink of this.traceSinks) sink(e);
      },
      this.name,
      () => this.traceSinks.size > 0,
    );
    const settings = { ...process.env, ...(record.settings ?? {}) };
    this.runtime = runtime ?? { containers: {}, finished: false };
    const store = ImageStore.open();
    for (const [name, id] of Object.entries({ ...record.images, ...this.runtime.images })) {
      const img = store.resolve(id);
      if (img) this.images.set(name, img);
    }
    const lookup = storeLookup(store);
    this.machine = runtime?.machine
      ? PodMachine.restore(
          this.manifest.pod,
          systemClock,
          backoffPolicy(settings),
          runtime.machine as MachineSnapshot,
          lookup,
        )
      : new PodMachine(this.manifest.pod, systemClock, backoffPolicy(settings), undefined, undefined, lookup);
    const secrets = record.pullSecrets ?? { configs: [], missing: [] };
    this.machine.pullSecretsMissing(secrets.missing);
    this.puller = new ImagePuller({
      pullSecrets: secrets.configs,
      insecureRegistries: settings.PODBOX_INSECURE_REGISTRIES,
      progress: (image, p) => {
        for (const l of this.listeners) l.progress?.(image, p);
      },
      done: (image, local, ms, size) => {
        this.machine.pullDone(image, local, ms, size);
        this.kick();
      },
      failed: (image, message) => {
        this.machine.pullFailed(image, message);
        this.kick();
      },
    });
    this.logSettings = settings;
    this.done = new Promise<number>((r) => (this.resolveDone = r));
  }

  private readonly logSettings: NodeJS.ProcessEnv;

  /**
   * Steps 0 and 1: a new pod. `created` resolves once it is created and its first containers are
   * started, or rejects with why it could not be (then nothing of it is left).
   */
  static create(
    request: LaunchRequest,
    listener?: PodListener,
    o: { dieWithRun?: boolean; trace?: (e: TraceEvent) => void } = {},
  ): { pod: PodSupervisor; created: Promise<void> } {
    const s = new PodSupervisor(request);
    s.dieWithRun = o.dieWithRun ?? false;
    if (listener) s.listeners.add(listener);
    if (o.trace) s.traceSinks.add(o.trace);
    return { pod: s, created: traced(s.activeTracer, () => s.createPod()) };
  }

  /** The pod's kernel steps go to sink too, from its next step on, until untrace(sink). */
  traceTo(sink: (e: TraceEvent) => void): void {
    this.traceSinks.add(sink);
  }

  untrace(sink: (e: TraceEvent) => void): void {
    this.traceSinks.delete(sink);
  }

  private get activeTracer(): Tracer | undefined {
    return this.traceSinks.size > 0 ? this.tracer : undefined;
  }

  /**
   * A pod another supervisor made (it crashed, or was upgraded): its containers kept running; this
   * one picks up where the machine's snapshot left off. Undefined when the pod needs no supervisor.
   */
  static adopt(dir: PodDir): PodSupervisor | undefined {
    const record = dir.record();
    const state = dir.state();
    if (!state?.runtime.created || state.runtime.finished || !state.runtime.machine) return undefined;
    const s = new PodSupervisor(record, state.runtime);
    s.resume(dir);
    return s;
  }

  attach(l: PodListener): void {
    this.listeners.add(l);
    const missed = this.unheard;
    this.unheard = undefined;
    for (const [container, stream, text] of missed ?? []) l.echo(container, stream, text);
  }

  detach(l: PodListener): void {
    this.listeners.delete(l);
  }

  get isFollowed(): boolean {
    return this.listeners.size > 0;
  }

  /** The pod's status as `get -o json` shows it (a foreground run's summary, once it is done). */
  get status(): PodStatus {
    return this.machine.status();
  }

  get isForeground(): boolean {
    return this.record.removeWhenDone;
  }

  /** The foreground run that follows this pod, if any. */
  get foreground(): PodRecord['foreground'] {
    return this.record.foreground;
  }

  private echo(container: string, stream: LogStream, text: string): void {
    for (const l of this.listeners) l.echo(container, stream, text);
    // A foreground run between two supervisors (this one adopted the pod) follows it again soon:
    // what it would have missed waits for it (bounded: the log has it all anyway).
    if (this.listeners.size === 0 && this.isForeground && (this.unheard ??= []).length < 10_000)
      this.unheard.push([container, stream, text]);
  }

  private async createPod(): Promise<void> {
    try {
      this.dir = PodDir.create(recordOf(this.record));
    } catch (e) {
      this.tearingDown = true;
      this.resolveDone(1);
      throw e;
    }
    try {
      if (this.pendingDelete)
        throw new PodboxError('SandboxFailed', `pod "${this.name}" was deleted while it was being created`);
      await this.createSandbox(this.dir);
    } catch (e) {
      await this.teardown();
      throw e instanceof PodboxError
        ? e
        : new PodboxError('SandboxFailed', `pod "${this.name}": ${(e as Error).message}`, 'run `podbox doctor`');
    } finally {
      // A pod network made ahead by a foreground run (cli/run.ts) and not used by this pod (rejected, or
      // off the pod network after all): let go.
      discardPreparedPodNetwork();
    }
    this.runtime.created = true;
    this.startTicker();
    const pending = this.pendingDelete as { grace?: number } | undefined;
    if (pending) this.deleteRequested(pending.grace);
    this.kick();
    await this.chain;
    // The stack came up beside the first containers' set-up (createSandbox); if it failed, no
    // container ran (startContainer waits for it before runc) and the pod is undone as never made.
    const stackFailed = await this.stackUp;
    if (stackFailed) {
      this.runtime.created = false;
      await this.teardown();
      throw stackFailed;
    }
    // A rejected pod stays, Failed, for `get` and `describe`; a foreground run ends with its line.
    const rejected = this.rejection;
    if (rejected && this.isForeground) {
      await this.done;
      throw new PodboxError('HostPortUnavailable', `pod "${this.name}": ${rejected.message}`, rejected.hint);
    }
  }

  /** Step 3: deletion asked for, with `podbox delete`'s grace period if it gave one. */
  deleteRequested(grace?: number): void {
    if (this.tearingDown || this.released) return;
    if (!this.runtime.created) {
      this.pendingDelete = { grace };
      return;
    }
    const g = grace ?? this.manifest.pod.spec.terminationGracePeriodSeconds;
    // Kept for `get` (Terminating) and for a successor that adopts a pod being deleted.
    try {
      this.dir?.requestDelete(grace);
    } catch {
      /* the directory is gone: deleted anyway */
    }
    this.machine.deleteRequested(g);
    this.puller.abortAll();
    this.kick();
  }

  /** A Warning event from outside the pod (`podbox serve`: the pod's file no longer parses). */
  warn(reason: string, message: string): void {
    this.machine.podWarning(reason, message);
    this.save();
  }

  private save(): void {
    // Only into our own directory: after a logout another pod may have the same path.
    if (this.released || !this.dir?.stillOurs()) return;
    try {
      this.runtime.machine = this.machine.snapshot();
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
   * Once a second: exit records the watch may have missed, and the pod's directory removed under it
   * (its runtime dir removed at logout, or by hand): the pod is then deleted with its own grace
   * period, since nobody could see or delete it else.
   */
  private startTicker(): void {
    const dir = this.dir!;
    if (this.exitsFile) {
      try {
        this.exitsFd ??= openSync(this.exitsFile, 'r');
        this.exitsWatch = watch(this.exitsFile, () => this.readExits());
      } catch {
        /* the ticker reads them */
      }
    }
    this.ticker = setInterval(() => {
      if (this.tearingDown) return;
      this.readExits();
      if (dir.stillOurs()) return;
      process.stderr.write(`podbox: pod "${dir.name}": its directory ${dir.path} was removed; deleting the pod\n`);
      this.machine.deleteRequested(this.manifest.pod.spec.terminationGracePeriodSeconds);
      this.kick();
    }, 1000);
    this.ticker.unref();
    this.watchEmptyDirs();
  }

  /** A disk emptyDir over its sizeLimit evicts the pod, as the kubelet's eviction manager does (empty-dir-limit.ts). */
  private watchEmptyDirs(): void {
    const dirs = limitedEmptyDirs(this.manifest.pod, (v) => this.pod.volumes.get(v)!.path);
    if (dirs.length === 0) return;
    this.emptyDirTimer = setInterval(() => {
      if (this.tearingDown || this.machine.isFinished() || this.machine.isDeleting()) return;
      const message = emptyDirOverLimit(dirs);
      if (message === undefined) return;
      this.machine.evicted(message);
      this.kick();
    }, EMPTY_DIR_CHECK_MS);
    this.emptyDirTimer.unref();
  }

  private async createSandbox(dir: PodDir): Promise<void> {
    const manifest = this.manifest;
    const pod = manifest.pod;
    this.save();
    this.exitsFile = dir.file('exits');
    const mode = networkModeOf(pod, this.logSettings.PODBOX_NETWORK);
    let net;
    try {
      net = planNetwork({ pod, mode, podsDir: podsDir(), podDir: dir.path, env: this.logSettings });
    } catch (e) {
      if (!(e instanceof PodRejected)) throw e;
      // Not admitted (a host port taken): the pod is Failed with the kubelet's reason, no sandbox.
      this.rejection = e;
      this.machine.rejected(e.reason, e.predicateMessage);
      return;
    }
    this.runtime.network = net;
    this.save();
    const volumeImages = await ensureVolumeImages(pod, {
      pullSecrets: this.record.pullSecrets?.configs ?? [],
      insecure: (ref) => insecureFor(ref, this.logSettings.PODBOX_INSECURE_REGISTRIES),
    });
    // Saved at once: from now on `image rm` sees the pod using these images.
    this.runtime.volumeImages = Object.fromEntries([...volumeImages].map(([v, img]) => [v, img.id]));
    this.save();
    const sandbox = await createSandbox({
      hostname: podHostname(pod),
      name: pod.metadata.name,
      podDir: dir.path,
      exitsFile: this.exitsFile,
      dieWithParent: this.dieWithRun,
      hostNetwork: mode === 'host',
      podNetwork: onPodNetwork(mode),
    });
    // The stack comes up (pasta takes 50 ms or more) as soon as pause holds the namespaces, while the
    // pod's limits, files and volumes are made and the first containers' root filesystems mounted:
    // each container waits for it only before runc runs it.
    const stackUp = startStack(net, sandbox.pid, dir.path, `pod "${pod.metadata.name}"`).then(
      () => {
        this.save();
        this.watchStack();
        return undefined;
      },
      (e: unknown) => (e instanceof PodboxError ? e : new PodboxError('NetworkFailed', String(e))),
    );
    // Beside it, the pod joins the user's pod network (pod-bridge.ts); containers wait for both.
    const bridged = joinPodNetwork(net, sandbox.pid, `pod "${pod.metadata.name}"`, stateDirs().pods);
    this.stackUp = bothUp(stackUp, bridged);
    this.stackConfigured = bothUp(stackConfigured(net, sandbox.pid, stackUp), bridged);
    this.runtime.pause = { pid: sandbox.pid, startTime: processStartTime(sandbox.pid) ?? 0 };
    this.runtime.exitsOffset = 0;
    this.runtime.limits = setUpPodLimits(pod, this.logSettings, sandbox.pid);
    const notEnforced = notEnforcedEvent(this.runtime.limits);
    if (notEnforced) this.machine.podWarning(notEnforced.reason, notEnforced.message);
    this.save();
    let podFiles;
    let prepared;
    try {
      this.machine.podIP = net.podIP;
      const hostResolvConf = readHostResolvConf(this.logSettings);
      net.dnsRelay = planDnsRelay(pod, hostResolvConf, net.mode, this.logSettings);
      if (net.dnsRelay) this.dnsRelay = DnsRelay.open(sandbox.pid, net.dnsRelay, `pod "${pod.metadata.name}"`);
      const dns = podDns(pod, hostResolvConf, net);
      for (const e of dns.events) this.machine.podWarning(e.reason, e.message);
      podFiles = writePodFiles(dir.path, pod, net.podIP, dns.content);
      prepared = prepareVolumes(dir.path, manifest, {
        images: volumeImages,
        node: nodeAllocatable(dir.path),
        pausePid: sandbox.pid,
      });
      const memoryMounts = [tmpfsMount(podFiles.shm, 64 * 1024 * 1024), ...prepared.mounts];
      mountInPod(sandbox.pid, `pod "${pod.metadata.name}": mount /dev/shm and memory volumes`, memoryMounts);
    } catch (e) {
      await this.stackUp; // so the teardown finds the stack's pid and ends it
      throw e;
    }
    this.runtime.made = { podFiles, volumes: [...prepared.volumes.values()] };
    this.usePod(dir, sandbox.pid);
    this.machine.sandboxReady();
    this.watchPause(sandbox.exited);
  }

  private usePod(dir: PodDir, pausePid: number): void {
    const made = this.runtime.made!;
    const networkReady = (this.stackConfigured ?? this.stackUp)?.then((failed) => {
      if (failed) throw failed;
    });
    networkReady?.catch(() => {}); // said by createPod, whether a container waited for it or not
    this.pod = {
      manifest: this.manifest,
      podDir: dir.path,
      pausePid,
      runc: new Runc(pausePid, dir.file('runc')),
      podFiles: made.podFiles,
      volumes: new Map(made.volumes.map((v) => [v.name, v])),
      podIP: this.runtime.network?.podIP,
      networkReady,
      limits: this.runtime.limits,
    };
  }

  /** An adopted pod's DNS relay died with the old supervisor: made again, or said as an event. */
  private reopenDnsRelay(pausePid: number): void {
    const plan = this.runtime.network?.dnsRelay;
    if (!plan) return;
    try {
      this.dnsRelay = DnsRelay.open(pausePid, plan, `pod "${this.name}"`);
    } catch (e) {
      this.machine.podWarning('DNSRelayFailed', `${(e as Error).message}: names do not resolve in the pod`);
    }
  }

  /** The pod's network stack exits before the pod does: said as an event (network.ts), never silent. */
  private watchStack(): void {
    const net = this.runtime.network;
    if (!net?.stackPid) return;
    const died = () => {
      if (this.tearingDown) return;
      this.machine.networkDied(
        `the pod's network stack (${net.mode}, pid ${net.stackPid}) exited: ` +
          'the pod has no way out and its host ports are not published',
      );
      this.kick();
    };
    if (!stackAlive(net) || !native().watchPidExit(net.stackPid, died)) died();
  }

  /**
   * pause exits: the pod's sandbox is gone (step 3). `how` when pause is our child (we made it);
   * an adopted pause is not, and how it ended is not known.
   */
  private watchPause(how?: Promise<{ code: number | null; signal: number | null }>): void {
    const died = async () => {
      if (this.tearingDown) return;
      this.sandboxDied(how ? await how : undefined);
      this.kick();
    };
    if (!native().watchPidExit(this.pod.pausePid, () => void died())) void died();
  }

  /** An adopted pod: its sandbox and containers as the old supervisor left them (see adopt). */
  private resume(dir: PodDir): void {
    this.dir = dir;
    dir.pin();
    this.exitsFile = dir.file('exits');
    const pause = this.runtime.pause!;
    this.usePod(dir, pause.pid);
    if (this.runtime.network) this.machine.podIP = this.runtime.network.podIP;
    if (!isAlive(pause)) {
      this.sandboxDied();
    } else {
      this.watchPause();
      this.watchStack();
      this.reopenDnsRelay(pause.pid);
      for (const [name, c] of Object.entries(this.runtime.containers)) {
        if (c.pid === undefined) continue;
        this.followOutput(name, c.instance);
      }
      this.readExits();
      // Containers whose start was under way when the old supervisor stopped: runc knows whether they run.
      for (const s of this.machine.containersToAdopt()) {
        if (s.created) continue;
        void this.adoptStarting(s.name, s.instance).then(this.kick);
      }
    }
    this.startTicker();
    const request = dir.deleteRequest();
    if (request && !this.machine.isDeleting())
      this.machine.deleteRequested(request.gracePeriodSeconds ?? this.manifest.pod.spec.terminationGracePeriodSeconds);
    this.kick();
  }

  private async adoptStarting(name: string, instance: number): Promise<void> {
    const id = containerId(name, instance);
    const state = await this.pod.runc.state(id);
    if (state?.status === 'running') {
      this.followOutput(name, instance);
      this.containerRunning(name, instance, state.pid);
    } else {
      // Never started, or made but not started: start it again (the same instance, no restart counted).
      if (state) await this.pod.runc.command(['delete', '--force', id]).catch(() => {});
      this.machine.startLost(name);
    }
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
    process.stderr.write(`podbox: pod "${this.name}": ${message}; the pod has failed\n`);
    this.machine.sandboxDied(message);
    // pause recorded the exits it reaped before it died; the kernel killed the rest with it (SIGKILL).
    this.readExits();
    for (const [name, c] of Object.entries(this.runtime.containers)) {
      if (c.pid !== undefined) void this.containerExited(name, c.instance, { pid: c.pid, exitCode: 137, signal: 9 });
    }
  }

  /** Runs the loop once more after whatever it is doing now (step 2). */
  private kick = (): void => {
    // (Traced: the loop's steps are the pod's, whoever kicked it.)
    this.chain = this.chain
      .then(() => traced(this.activeTracer, () => this.pump()))
      .catch(async (e) => {
        process.stderr.write(
          `podbox: pod "${this.name}": ${e instanceof PodboxError ? e.toLine() : (e as Error).stack}\n`,
        );
        if (!this.tearingDown) await traced(this.activeTracer, () => this.teardown());
      });
  };

  private async pump(): Promise<void> {
    if (this.tearingDown || this.released) return;
    for (let actions = this.machine.actions(); actions.length; actions = this.machine.actions()) {
      for (const a of actions) await this.perform(a);
      if (this.tearingDown) return;
    }
    this.sayImageTrouble();
    this.save();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const at = this.machine.wakeAt();
    if (at !== undefined) this.wakeTimer = setTimeout(this.kick, Math.max(0, at - Date.now()));
  }

  private async perform(a: Action): Promise<void> {
    switch (a.type) {
      case 'start':
        await this.start(a.container, a.instance, a.image);
        break;
      case 'pull':
        this.puller.pull(a.image);
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

  private logOptions(name: string, instance: number) {
    return {
      file: this.dir!.logFile(name, instance),
      echo: (stream: LogStream, text: string) => this.echo(name, stream, text),
      onLost: (lines: number, e: Error) => {
        this.machine.logLinesLost(name, lines, e.message);
        this.kick();
      },
      policy: containerLogPolicy(this.logSettings),
    };
  }

  private async start(name: string, instance: number, imageId: string): Promise<void> {
    try {
      const image = ImageStore.open().get(imageId);
      this.images.set(name, image);
      (this.runtime.images ??= {})[name] = image.id;
      const { pid, sink } = await startContainer(this.pod, name, instance, image, this.logOptions(name, instance));
      this.useSink(name, instance, sink);
      this.containerRunning(name, instance, pid);
    } catch (e) {
      if (e instanceof ContainerConfigError) return this.configFailed(e);
      if (e instanceof VolumeMountError) return this.mountFailed(name, e);
      // The pod's network never came up: createPod undoes the pod, nothing ran.
      if (this.stackUp && e === (await this.stackUp)) return;
      const msg = (e as Error).message;
      // runc could not start it: the kubelet's StartError (exit code 128).
      this.machine.startFailed(name, msg);
      this.echo(name, 'stderr', `podbox: cannot start container: ${msg}`);
    }
  }

  /** A running container: its pid is known; its exit comes from pause's records. */
  private containerRunning(name: string, instance: number, pid: number): void {
    this.runtime.containers[name] = { instance, pid, hostPid: hostPidOfChild(this.pod.pausePid, pid) };
    this.machine.started(name, `runc://${containerId(name, instance)}`);
    const early = this.unclaimedExits.get(pid);
    if (early) {
      this.unclaimedExits.delete(pid);
      void this.containerExited(name, instance, early);
    }
  }

  private useSink(name: string, instance: number, sink: LogSink): void {
    // (Released to a successor: the FIFOs are its to read.)
    const closed = sink.closed().then(() => {
      if (!this.released) removeContainerOutput(this.pod.podDir, containerId(name, instance));
    });
    this.draining.add(closed);
    void closed.then(() => this.draining.delete(closed));
    this.sinks.set(name, sink);
  }

  /** An adopted container's output: its FIFOs, opened for reading again. */
  private followOutput(name: string, instance: number): void {
    const id = containerId(name, instance);
    this.useSink(name, instance, attachOutput(this.pod.podDir, id, this.logOptions(name, instance)));
  }

  /** pause's exit records since the last read: each container's first process that exited. */
  private readExits(): void {
    if (!this.exitsFile || this.tearingDown || this.released) return;
    let read: { records: ExitRecord[]; offset: number };
    try {
      this.exitsFd ??= openSync(this.exitsFile, 'r');
      read = readExitRecordsFrom(this.exitsFd, this.runtime.exitsOffset ?? 0);
    } catch {
      return;
    }
    if (read.records.length === 0) return;
    this.runtime.exitsOffset = read.offset;
    for (const r of read.records) {
      const entry = Object.entries(this.runtime.containers).find(([, c]) => c.pid === r.pid);
      if (entry) void this.containerExited(entry[0], entry[1].instance, r);
      else {
        this.unclaimedExits.set(r.pid, r);
        // Orphans of a shared PID namespace are reaped by pause too; keep only recent records.
        if (this.unclaimedExits.size > 1000) this.unclaimedExits.delete(this.unclaimedExits.keys().next().value!);
      }
    }
    this.save();
  }

  private async containerExited(name: string, instance: number, r: ExitRecord): Promise<void> {
    const c = this.runtime.containers[name];
    if (!c || c.instance !== instance || c.pid !== r.pid) return;
    traceContainerExited(name, containerId(name, instance), r);
    delete c.pid;
    delete c.hostPid;
    // The log has the container's last words before its exit is reported (as the kubelet reads the
    // termination message after the runtime has the log).
    // Bounded: a process the container left behind (a shared PID namespace) may hold its output open.
    const sink = this.sinks.get(name);
    if (sink) await Promise.race([sink.closed(), new Promise((r) => setTimeout(r, 1000).unref())]);
    // Read before runc's delete removes the container's cgroup.
    const oom = oomKilled(this.runtime.limits, containerId(name, instance), r.signal === 9);
    void this.pod.runc.command(['delete', '--force', containerId(name, instance)]).catch(() => {});
    const spec = containerNamed(this.manifest.pod, name);
    const message = readTerminationMessage(this.pod.podDir, spec, r.exitCode, this.dir!.logFile(name, instance));
    if (oom) this.machine.podWarning(OOM_EVENT.reason, OOM_EVENT.message(name, spec));
    this.machine.exited(name, r.exitCode, undefined, oom ? OOM_KILLED : undefined, message);
    for (const l of this.listeners) l.exited?.(name, r.exitCode);
    this.kick();
  }

  /**
   * A container that cannot have its image (ErrImagePull, ErrImageNeverPull): a foreground run says
   * so once per container and cause, as for a container that cannot be made (configFailed).
   */
  private sayImageTrouble(): void {
    const st = this.machine.status();
    for (const c of [...(st.initContainerStatuses ?? []), ...st.containerStatuses]) {
      const w = 'waiting' in c.state ? c.state.waiting : undefined;
      if (!w || (w.reason !== ERR_IMAGE_PULL && w.reason !== ERR_IMAGE_NEVER_PULL)) continue;
      const said = `${c.name}\n${w.reason}\n${w.message}`;
      if (this.configErrorsSaid.has(said)) continue;
      this.configErrorsSaid.add(said);
      const what = w.reason === ERR_IMAGE_PULL ? `Failed to pull image "${c.image}": ${w.message}` : w.message;
      this.echo(c.name, 'stderr', `podbox: ${w.reason}: ${what}; retrying`);
    }
  }

  /** A container that cannot be made waits and is retried; a foreground run says so once per cause. */
  private configFailed(e: ContainerConfigError): void {
    this.machine.configFailed(e.container, e.reason, e.detail);
    const said = `${e.container}\n${e.detail}`;
    if (this.configErrorsSaid.has(said)) return;
    this.configErrorsSaid.add(said);
    this.echo(e.container, 'stderr', `podbox: cannot create container: ${e.reason}: ${e.detail}; retrying`);
  }

  /** A volume that cannot be set up: the container waits and is retried; a foreground run says so once per cause. */
  private mountFailed(name: string, e: VolumeMountError): void {
    this.machine.mountFailed(name, e.volume, e.message);
    const said = `${e.volume}\n${e.message}`;
    if (this.configErrorsSaid.has(said)) return;
    this.configErrorsSaid.add(said);
    this.echo(name, 'stderr', `podbox: FailedMount: volume "${e.volume}": ${e.message}; retrying`);
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
      podIP: this.machine.podIP,
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
    if (info?.pid === undefined) return;
    // The image's STOPSIGNAL replaces SIGTERM (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/).
    const sig = signal === 'SIGTERM' ? this.images.get(name)?.config.StopSignal || 'SIGTERM' : 'SIGKILL';
    const direct = () => {
      // runc's state went with the pod's directory: signal the container's first process directly.
      try {
        if (info.hostPid !== undefined) process.kill(info.hostPid, sig);
      } catch {
        /* gone */
      }
    };
    // (runc would make its state directory again, inside a pod directory that is gone.)
    // (Read before the signal: a container that exits at once is no longer stopping after it.)
    const deadline = this.machine.stopDeadline(name);
    if (!this.dir?.stillOurs()) direct();
    else await this.pod.runc.kill(containerId(name, info.instance), sig).catch(direct);
    // A foreground run says when it waits on a grace period (kuberuntime_container.go killContainer logs it).
    const graceSeconds = deadline === undefined ? 0 : Math.max(0, Math.round((deadline - Date.now()) / 1000));
    if (signal === 'SIGTERM') for (const l of this.listeners) l.stopping?.(name, sig, graceSeconds);
  }

  /**
   * Step 4. Every part runs whatever the others did: a supervisor never hangs in teardown.
   * What holds files of the pod's subordinate ids (layers, volumes) is removed from the pod's own
   * user namespace, by a remover that joins it before pause stops (sandbox/userns.ts), so no id
   * map is made again for it; what is left is the user's own files, which `podbox delete` removes
   * without any.
   */
  private async teardown(): Promise<void> {
    if (this.tearingDown) return;
    this.tearingDown = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.puller.abortAll();
    if (this.ticker) clearInterval(this.ticker);
    if (this.emptyDirTimer) clearInterval(this.emptyDirTimer);
    if (this.saveRetry) clearTimeout(this.saveRetry);
    this.exitsWatch?.close();
    if (this.exitsFd !== undefined) closeSync(this.exitsFd);
    const dir = this.dir;
    const ours = dir?.stillOurs() ?? false;
    const removeAll = this.record.removeWhenDone || !this.runtime.created || !ours;
    const paths = removeAll
      ? [dir?.path]
      : ['containers', 'volumes', 'runc', 'runc-logs', 'shm', 'root', OUTPUT_DIR].map((d) => dir?.file(d));
    try {
      const pause = this.runtime.pause;
      const pauseAlive = pause !== undefined && isAlive(pause);
      const remover = dir && pauseAlive && dir.isPinnedDir() ? removeTreesAfterPod(pause.pid) : undefined;
      const sandboxEnd = pauseAlive ? traceSandboxEnd(pause.pid) : undefined;
      signalStack(this.runtime.network); // exits beside pause; stopStack below waits for it
      if (pauseAlive) {
        // pause exits on SIGTERM; the kernel then kills whatever is left in the pod's PID namespace,
        // and the mount namespace, with every overlay and tmpfs of the pod, goes with the last process.
        try {
          process.kill(pause.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        await pollUntil(() => !alive(pause.pid), 10_000, 5);
        sandboxEnd?.();
      }
      this.dnsRelay?.close();
      // The containers may have run and ended before the stack finished starting (stackConfigured):
      // its pid is known, and it can be ended, once it has.
      await this.stackUp;
      await removePodLimits(this.runtime.limits);
      await removeFlatContainerCgroups(this.manifest.pod, this.runtime.containers, this.runtime.limits);
      await stopStack(this.runtime.network);
      releaseNetwork(podsDir(), this.runtime.network);
      await Promise.race([Promise.all(this.draining), new Promise((r) => setTimeout(r, 2000).unref())]);
      this.runtime.finished = true;
      this.runtime.exitCode = this.machine.exitCode();
      this.save();
      if (dir && !dir.isPinnedDir()) dir.removeEmptyRemains();
      if (dir?.isPinnedDir()) {
        const list = paths.filter((p): p is string => p !== undefined);
        if (remover) await remover(list).catch(() => removeTrees(list));
        else await removeTrees(list);
        if (!removeAll) {
          this.runtime.cleaned = true;
          this.save();
        }
      } else {
        await remover?.([]);
      }
    } catch (e) {
      process.stderr.write(`podbox: pod "${this.name}": teardown: ${(e as Error).message}\n`);
    } finally {
      this.resolveDone(this.runtime.exitCode ?? this.machine.exitCode());
    }
  }

  /** Saves the machine as it is, for a successor (the supervisor process is stopping). */
  leave(): void {
    if (this.tearingDown) return;
    this.save();
  }

  /**
   * Hands the pod over to another supervisor (this process goes on without it): saved once more,
   * then nothing more is done or written, whatever was under way; the successor adopts it.
   * Output not read yet stays in the container's FIFOs for it.
   */
  release(): void {
    if (this.tearingDown) return;
    this.save();
    this.released = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.ticker) clearInterval(this.ticker);
    if (this.emptyDirTimer) clearInterval(this.emptyDirTimer);
    if (this.saveRetry) clearTimeout(this.saveRetry);
    this.exitsWatch?.close();
    for (const sink of this.sinks.values()) sink.detach();
    this.listeners.clear();
  }
}
