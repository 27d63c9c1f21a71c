import { allContainers } from '../api/containers.js';
import { MISSING_PULL_SECRETS_REASON, missingPullSecretsMessage } from '../registry/pull-secrets.js';
import { quantityValue } from '../api/quantity.js';
import { goDuration } from '../kubectl/duration.js';
import { NODE_NAME, HOST_IP, POD_IP } from '../api/node.js';
import type { Container, Pod, Probe } from '../api/types.js';
import {
  iso,
  POD_GENERATION,
  type ContainerStatus,
  type PodCondition,
  type PodEvent,
  type PodPhase,
  type PodStatus,
} from '../api/status.js';
import { REJECTED_PREFIX } from './admission.js';
import { MINIMUM_GRACE_PERIOD_SECONDS, type BackoffPolicy, type Clock } from './timing.js';
import { decodeSnapshot, encodeSnapshot, type MachineSnapshot, type MachineState } from './machine-snapshot.js';
import {
  ERR_IMAGE_NEVER_PULL,
  ERR_IMAGE_PULL,
  failedAt,
  IMAGE_PULL_BACK_OFF,
  imageWords,
  inBackoff,
  nextImageSync,
  shouldPull,
  type ImageLookup,
  type ImagePull,
  type LocalImage,
} from './image-pulls.js';

/**
 * One state machine per pod, as the kubelet's pod worker (pkg/kubelet/pod_workers.go,
 * kuberuntime_manager.go computePodActions, prober/worker.go). It never touches the kernel: the
 * supervisor feeds it what happened (started, exited, a probe or hook result, delete requested,
 * time passed) and performs the actions it returns (start, run a hook or a probe, signal, tear
 * down). The clock is injected so unit tests can drive back-off and probe timing without sleeping.
 * (Longer than other files on purpose: the whole lifecycle is one transition table, read in one place.)
 *
 * Per container:
 *   idle ─image present (or pulled)─▶ start
 *     └─ pull ─▶ image ─pulled─▶ idle ─▶ start        (image-pulls.ts: policy, back-off, events)
 *                  └─ failed, Never, back-off: waits, looked at again later
 *   idle ─start─▶ starting ─started─▶ postStart ─hook ok─▶ running ─exit─▶ restart policy ─▶ backoff ─▶ idle
 *                                        │ hook failed          │ liveness/startup failed,       └──▶ done
 *                                        └────────────▶ stopping ◀─ delete, deadline, pod done
 *   stopping: preStop hook (if any) ─▶ stop signal ─▶ SIGKILL when the grace period ends ─▶ exit
 *
 * Pod: Pending (init containers in order; a sidecar, i.e. an init container with restartPolicy
 * Always, lets the next one start once it is started) ─▶ Running (app containers together)
 * ─▶ Succeeded | Failed (every app container done; sidecars are then stopped in reverse order)
 * ─▶ teardown. Delete at any time: app containers stopped together, then sidecars in reverse order.
 */

/** `sidecar`: an init container with restartPolicy Always (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/). */
export type ContainerKind = 'init' | 'sidecar' | 'app';
export type ProbeKind = 'startup' | 'liveness' | 'readiness';
export type HookKind = 'postStart' | 'preStop';
/** Why a container could not be made (pkg/kubelet/container/sync_result.go). */
export type ContainerConfigReason = 'CreateContainerConfigError' | 'CreateContainerError';
export type StopReason = 'delete' | 'liveness' | 'startup' | 'postStart' | 'finished' | 'deadline' | 'evicted';

/** `image`: waiting for its image (pulled, in back-off, or absent under Never) before it can start */
export type SlotPhase = 'idle' | 'image' | 'starting' | 'postStart' | 'running' | 'stopping' | 'backoff' | 'done';

export interface ProbeState {
  nextAt: number;
  inFlight: boolean;
  successes: number;
  failures: number;
}

export interface StopState {
  reason: StopReason;
  /** SIGKILL when this passes */
  deadline: number;
  preStop: 'none' | 'due' | 'running' | 'over';
  signalled: boolean;
  killed: boolean;
}

/** Exported (with the types it uses) for machine-snapshot.ts only. */
export interface Slot {
  spec: Container;
  kind: ContainerKind;
  phase: SlotPhase;
  status: ContainerStatus;
  /** how many instances were created; the current one is instances - 1 */
  instances: number;
  runningSince?: number;
  /** kubelet back-off: the delay before the next restart (0 = restart at once) */
  backoffSeconds: number;
  backoffUntil?: number;
  /** the last instance exited with code 0 */
  succeeded?: boolean;
  /** a sidecar that has been started once no longer holds back the next init container */
  everStarted: boolean;
  probes: Partial<Record<ProbeKind, ProbeState>>;
  stop?: StopState;
  /** in phase `image`: the pull it waits on, or when its image is looked at again */
  imageWait?: { pulling?: string; syncAt?: number };
  /** the image pulled for its next start */
  imageReady?: LocalImage;
}

export type Action =
  | { type: 'start'; container: string; instance: number; kind: ContainerKind; image: string }
  /** pull `image` (a reference as the pod gives it); the result comes back as pullDone or pullFailed */
  | { type: 'pull'; image: string }
  | { type: 'hook'; container: string; instance: number; hook: HookKind; timeoutSeconds: number }
  | { type: 'probe'; container: string; instance: number; probe: ProbeKind }
  | { type: 'kill'; container: string; signal: 'SIGTERM' | 'SIGKILL' }
  | { type: 'teardown' };

/** kubecontainer.MaxPodTerminationMessageLogLength: the termination messages of one pod, in bytes. */
const MAX_POD_TERMINATION_MESSAGE_BYTES = 12 * 1024;

const PROBE_NAME: Record<ProbeKind, string> = { startup: 'Startup', liveness: 'Liveness', readiness: 'Readiness' };
export const PROBE_FIELD: Record<ProbeKind, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> = {
  startup: 'startupProbe',
  liveness: 'livenessProbe',
  readiness: 'readinessProbe',
};

export class PodMachine {
  private readonly slots: Slot[];
  private readonly events: PodEvent[] = [];
  private readonly conditions = new Map<PodCondition['type'], PodCondition>();
  private readonly queue: Action[] = [];
  /** the back-off of the pod's volume mounts (mountFailed); not in the snapshot: a successor starts at 500ms */
  private mountRetryMs = 0;
  /** the phase decided; status() publishes it once it is terminal only when every container stopped */
  private phase: PodPhase = 'Pending';
  /** the last phase that was not terminal, published while the containers of a finished pod stop */
  private livePhase: PodPhase = 'Pending';
  private reason?: { reason: string; message: string };
  private startTime?: number;
  private deleting?: { deadline: number };
  private sandboxDead = false;
  private tornDown = false;
  /** each image's pulls and back-off (image-pulls.ts), by the reference the pod gives */
  private pulls: Record<string, ImagePull> = {};
  /** imagePullSecrets the pod names that were not given (pull-secrets.ts) */
  private missingPullSecrets: string[] = [];
  private readonly podRef: string;

  constructor(
    readonly pod: Pod,
    private readonly clock: Clock,
    private readonly backoff: BackoffPolicy,
    readonly hostIP = HOST_IP,
    /** set once the pod's network is made (supervisor.ts) */
    public podIP = POD_IP,
    /** the local image store; the default, every image present, is for tests of other matters */
    private readonly images: ImageLookup = (ref) => ({ id: ref, imageID: ref }),
  ) {
    const slot = (spec: Container, kind: ContainerKind): Slot => ({
      spec,
      kind,
      phase: 'idle',
      instances: 0,
      backoffSeconds: 0,
      everStarted: false,
      probes: {},
      status: {
        name: spec.name,
        image: spec.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'PodInitializing' } },
        lastState: {},
      },
    });
    this.slots = [
      ...(pod.spec.initContainers ?? []).map((c) => slot(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init')),
      ...pod.spec.containers.map((c) => slot(c, 'app')),
    ];
    for (const s of this.slots)
      if (s.kind !== 'app' || !pod.spec.initContainers?.length)
        s.status.state = { waiting: { reason: 'ContainerCreating' } };
    this.podRef = podRef(pod);
    this.setCondition('PodScheduled', true);
    this.setCondition('Initialized', !pod.spec.initContainers?.length);
    this.setCondition('ContainersReady', false, 'ContainersNotReady');
    this.setCondition('Ready', false, 'ContainersNotReady');
    this.record(
      'Normal',
      'Scheduled',
      `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${NODE_NAME}`,
    );
  }

  // --- what happened ---------------------------------------------------------------------

  sandboxReady(): void {
    this.startTime ??= this.clock.now();
  }

  /** A warning about the pod itself, not one of its containers (the kubelet's DNS events: sandbox/resolv-conf.ts). */
  podWarning(reason: string, message: string): void {
    this.record('Warning', reason, message);
  }

  /** imagePullSecrets not given with the pod: each pull says so (kubelet.go getPullSecretsForPod). */
  pullSecretsMissing(names: string[]): void {
    this.missingPullSecrets = names;
  }

  /**
   * A pull the machine asked for succeeded: every container waiting on it starts with it
   * (image_manager.go EnsureImageExists: Pulled, "Successfully pulled image ..."). `pullMs`: the
   * pull's own duration; the one including waiting counts from its Pulling event.
   */
  pullDone(image: string, local: LocalImage, pullMs: number, size: number): void {
    const p = this.pulls[image];
    if (!p || p.startedAt === undefined) return;
    const now = this.clock.now();
    const total = Math.max(now - p.startedAt, pullMs);
    delete p.startedAt;
    // flowcontrol.Backoff.GC: an entry is forgotten once twice the maximum passed since its last failure.
    if (p.backoffSeconds === 0 || now - p.lastUpdate > 2 * this.backoff.maxSeconds * 1000) delete this.pulls[image];
    for (const s of this.waitingOn(image)) {
      this.record('Normal', 'Pulled', imageWords.pulled(image, pullMs, total, size), s);
      s.imageWait = undefined;
      s.imageReady = local;
      s.phase = 'idle';
    }
    this.refresh();
  }

  /** A pull failed: its containers wait with ErrImagePull, and the image's back-off grows. */
  pullFailed(image: string, error: string): void {
    const p = this.pulls[image];
    if (!p || p.startedAt === undefined) return;
    const now = this.clock.now();
    failedAt(p, now, this.backoff);
    for (const s of this.waitingOn(image)) {
      this.record('Warning', 'Failed', imageWords.failed(image, error), s);
      this.imageTrouble(s, ERR_IMAGE_PULL, error, nextImageSync(this.backoff, now, true, p));
    }
    this.refresh();
  }

  /**
   * runc started the container's process. With a postStart hook it is not running (nor started)
   * until the hook completes (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/).
   * `at`: when it started, for a start a restored machine learns afterwards (machine-snapshot.ts).
   */
  started(name: string, containerID: string, at = this.clock.now()): void {
    const s = this.slot(name);
    s.runningSince = Math.min(at, this.clock.now());
    s.status.containerID = containerID;
    // kuberuntime_container.go startContainer: Created once the runtime created it, then Started.
    this.record('Normal', 'Created', `Created container ${name}`, s);
    this.record('Normal', 'Started', `Started container ${name}`, s);
    if (s.phase === 'stopping') return; // deletion came first: the stop goes ahead
    const hook = s.spec.lifecycle?.postStart;
    if (hook) {
      s.phase = 'postStart';
      this.queue.push({
        type: 'hook',
        container: name,
        instance: s.instances - 1,
        hook: 'postStart',
        timeoutSeconds: this.pod.spec.terminationGracePeriodSeconds,
      });
    } else {
      this.becomeRunning(s);
    }
    this.refresh();
  }

  /** A hook finished. `message` is the kubelet's event message when it failed. */
  hookDone(name: string, instance: number, hook: HookKind, ok: boolean, message = ''): void {
    const s = this.slot(name);
    if (instance !== s.instances - 1) return;
    if (hook === 'postStart') {
      if (s.phase !== 'postStart') return;
      if (ok) {
        this.becomeRunning(s);
      } else {
        // kuberuntime_container.go startContainer: FailedPostStartHook event, then kill.
        this.record('Warning', 'FailedPostStartHook', message, s);
        s.status.state = { waiting: { reason: 'PostStartHookError', message } };
        this.beginStop(s, 'postStart', this.pod.spec.terminationGracePeriodSeconds);
      }
    } else if (s.stop?.preStop === 'running') {
      if (!ok) this.record('Warning', 'FailedPreStopHook', message, s);
      this.preStopOver(s);
    }
    this.refresh();
  }

  /** A probe finished (prober/worker.go doProbe). */
  probeResult(name: string, instance: number, kind: ProbeKind, ok: boolean, message = ''): void {
    const s = this.slot(name);
    const p = s.probes[kind];
    const spec = s.spec[PROBE_FIELD[kind]];
    if (!p || !spec || instance !== s.instances - 1 || s.phase !== 'running') return;
    const now = this.clock.now();
    p.inFlight = false;
    p.nextAt = now + spec.periodSeconds * 1000;
    if (ok) {
      p.successes += 1;
      p.failures = 0;
    } else {
      p.failures += 1;
      p.successes = 0;
      this.record('Warning', 'Unhealthy', `${PROBE_NAME[kind]} probe failed: ${message}`.trimEnd(), s);
    }
    if (kind === 'readiness') {
      if (ok && p.successes >= spec.successThreshold) s.status.ready = true;
      if (!ok && p.failures >= spec.failureThreshold) s.status.ready = false;
    } else if (ok && kind === 'startup') {
      // Startup succeeded: it is not run again, and liveness and readiness begin.
      delete s.probes.startup;
      this.markStarted(s);
    } else if (!ok && p.failures >= spec.failureThreshold) {
      this.record('Normal', 'Killing', `Container ${name} failed ${kind} probe, will be restarted`, s);
      this.beginStop(s, kind, spec.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds);
    }
    this.refresh();
  }

  /**
   * Lines of a container's output could not be written to its log (disk full, I/O error, file
   * size limit); the container keeps running. Neither the kubelet nor containerd nor CRI-O emits
   * an event for this (containerd's pkg/cri/io/logger.go redirectLogs only logs "Fail to write
   * ... log to log file" and goes on draining), so the reason is podbox's own: one Warning
   * LogLinesLost per container and cause, whose count is the number of lines lost, aggregated as
   * the event correlator aggregates repeats.
   */
  logLinesLost(name: string, lines: number, cause: string): void {
    if (lines <= 0) return;
    const s = this.slot(name);
    const message = `Failed to write the log of container ${name}, its lines were dropped: ${cause}`;
    this.record('Warning', LOG_LINES_LOST, message, s, lines);
  }

  /** The runtime could not start the container (kubelet: StartError, exit code 128). */
  startFailed(name: string, message: string): void {
    const s = this.slot(name);
    this.record('Warning', 'Failed', `Error: ${message}`, s);
    s.runningSince = this.clock.now();
    this.exited(name, 128, undefined, 'StartError', message);
  }

  /**
   * The container could not be made, so nothing ran (kuberuntime_container.go startContainer,
   * pkg/kubelet/container/sync_result.go): its config could not be generated
   * (CreateContainerConfigError: runAsNonRoot violated...) or the runtime refused to create it
   * (CreateContainerError: a user name the image lacks...). It waits with that reason, a Warning
   * Failed event says "Error: ...", and the pod worker tries again after its back-off
   * (pod_workers.go completeWork: a sync error requeues the pod after backOffPeriod), whatever the
   * restart policy: no instance was created, so restartCount does not move and the pod stays
   * Pending until some container of its own runs.
   */
  configFailed(name: string, reason: ContainerConfigReason, message: string): void {
    const s = this.slot(name);
    if (s.phase !== 'starting' && s.phase !== 'stopping') return;
    this.record('Warning', 'Failed', `Error: ${message}`, s);
    this.notCreated(s, { reason, message }, this.backoff.initialSeconds * 1000);
  }

  /** A start that created nothing: the container waits with `waiting`, tried again after `retryMs`. */
  private notCreated(s: Slot, waiting: { reason: string; message?: string }, retryMs: number): void {
    s.instances -= 1;
    s.status.restartCount = Math.max(0, s.instances - 1);
    s.status.state = { waiting };
    s.runningSince = undefined;
    if (s.stop || this.deleting || this.isFinished()) {
      s.stop = undefined;
      s.phase = 'done';
    } else {
      s.phase = 'backoff';
      s.backoffUntil = this.clock.now() + retryMs;
    }
    this.refresh();
  }

  /**
   * A volume of the pod could not be set up (volume/host-path.ts: a hostPath type check failed).
   * The kubelet creates no container before every volume is mounted (volumemanager
   * WaitForAttachAndMount), so the container waits as ContainerCreating with nothing created; the
   * failure is a pod event, FailedMount, in operation_generator.go's words ("MountVolume.SetUp
   * failed for volume ..."), repeated (and counted) at each try; the volume manager tries again
   * with exponential back-off, 500ms doubling up to 2m2s (nestedpendingoperations.go,
   * exponentialbackoff: initialDurationBeforeRetry, maxDurationBeforeRetry).
   */
  mountFailed(name: string, volume: string, message: string): void {
    const s = this.slot(name);
    if (s.phase !== 'starting' && s.phase !== 'stopping') return;
    this.record('Warning', 'FailedMount', `MountVolume.SetUp failed for volume "${volume}" : ${message}`);
    this.mountRetryMs = this.mountRetryMs === 0 ? 500 : Math.min(this.mountRetryMs * 2, 122_000);
    this.notCreated(s, { reason: 'ContainerCreating' }, this.mountRetryMs);
  }

  /**
   * The container's process ended. `at`: when, for an exit pause recorded while no supervisor ran
   * (machine-snapshot.ts); the termination and the back-off count from then.
   */
  exited(
    name: string,
    exitCode: number,
    signal?: number,
    reasonOverride?: string,
    message?: string,
    at = this.clock.now(),
  ): void {
    const s = this.slot(name);
    const now = Math.max(Math.min(at, this.clock.now()), s.runningSince ?? -Infinity);
    const startedAt = s.runningSince !== undefined ? iso(s.runningSince) : undefined;
    const reason = reasonOverride ?? (exitCode === 0 ? 'Completed' : 'Error');
    s.status.state = {
      terminated: {
        exitCode,
        reason,
        finishedAt: iso(now),
        ...(signal ? { signal } : {}),
        ...(startedAt ? { startedAt } : {}),
        ...(message ? { message } : {}),
        ...(s.status.containerID ? { containerID: s.status.containerID } : {}),
      },
    };
    // prober_manager.go UpdatePodStatus: an init container (not a sidecar) that terminated with
    // exit code 0 is ready; every other terminated container is not.
    s.status.ready = s.kind === 'init' && exitCode === 0;
    s.status.started = false;
    s.succeeded = exitCode === 0;
    s.probes = {};
    const ranFor = s.runningSince !== undefined ? (now - s.runningSince) / 1000 : 0;
    s.runningSince = undefined;
    const stoppedBy = s.stop?.reason;
    s.stop = undefined;

    // Stopped because the pod is going away: it stays down. Killed for a failed probe or hook,
    // or exited by itself: the restart policy decides.
    const goingAway =
      this.deleting ||
      stoppedBy === 'delete' ||
      stoppedBy === 'finished' ||
      stoppedBy === 'deadline' ||
      stoppedBy === 'evicted' ||
      this.isFinished();
    if (!goingAway && this.shouldRestart(s)) this.scheduleRestart(s, ranFor, now);
    else s.phase = 'done';
    this.refresh();
  }

  /** Graceful deletion: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination */
  deleteRequested(graceSeconds: number): void {
    const deadline = this.clock.now() + graceSeconds * 1000;
    if (this.deleting) {
      // A second request may only shorten the grace period, as with kubectl delete.
      this.deleting.deadline = Math.min(this.deleting.deadline, deadline);
      for (const s of this.slots) if (s.stop) s.stop.deadline = Math.min(s.stop.deadline, deadline);
      return;
    }
    this.deleting = { deadline };
    for (const s of this.slots) {
      if (isWaiting(s)) s.phase = 'done';
    }
    // App (and regular init) containers are stopped together; sidecars after them (actions()).
    for (const s of this.slots) if (s.kind !== 'sidecar' && this.isUp(s)) this.beginStop(s, 'delete', graceSeconds);
    this.refresh();
  }

  /**
   * The sandbox (pause and the pod's namespaces) is gone, and every container with it. podbox does
   * not make a new one (the kubelet would: SandboxChanged), so the pod fails at once: nothing
   * restarts, and a container that had already exited shows its termination, not a back-off.
   */
  sandboxDied(message: string): void {
    if (this.sandboxDead) return;
    this.sandboxDead = true;
    this.record('Warning', 'SandboxDied', message);
    this.phase = 'Failed';
    this.reason = { reason: 'SandboxDied', message };
    this.deleting ??= { deadline: this.clock.now() };
    for (const s of this.slots) {
      const last = 'terminated' in s.status.lastState ? s.status.lastState.terminated : undefined;
      if (s.phase === 'backoff' && last) s.status.state = { terminated: last };
      if (isWaiting(s)) s.phase = 'done';
      // Its processes are gone: no preStop, no signal can reach them; their exits are on the way.
      if (s.stop) s.stop = { ...s.stop, preStop: 'over', signalled: true, killed: true };
    }
    this.refresh();
  }

  /**
   * The pod is not admitted (lifecycle/admission.ts, as kubelet.go rejectPod): a Warning event with
   * the predicate's reason and message, and the pod Failed with that reason and "Pod was rejected: "
   * before the message. No container ever starts; the machine's next action is the teardown.
   */
  rejected(reason: string, message: string): void {
    this.record('Warning', reason, message);
    this.phase = 'Failed';
    this.reason = { reason, message: `${REJECTED_PREFIX}${message}` };
    for (const s of this.slots) if (isWaiting(s)) s.phase = 'done';
    this.refresh();
  }

  private isRejected(): boolean {
    return this.reason?.message.startsWith(REJECTED_PREFIX) ?? false;
  }

  /**
   * The pod's user-mode network stack exited while the pod runs (network.ts): its containers lose
   * their way out and published ports, so it is said, as the kubelet says NetworkNotReady.
   */
  networkDied(message: string): void {
    this.record('Warning', 'NetworkNotReady', message);
    this.refresh();
  }

  sandboxIsDead(): boolean {
    return this.sandboxDead;
  }

  /**
   * A start the old supervisor was given, but runc has no container NAME.INSTANCE: it was never
   * made. As a restarted kubelet that finds no container starts one (kuberuntime_manager.go
   * computePodActions), the start is given again, with the same instance; no restart is counted.
   */
  startLost(name: string): void {
    const s = this.slot(name);
    if (s.runningSince !== undefined || (s.phase !== 'starting' && s.phase !== 'stopping')) return;
    s.instances -= 1;
    s.status.restartCount = Math.max(0, s.instances - 1);
    s.phase = s.stop || this.deleting || this.isFinished() ? 'done' : 'idle';
    s.stop = undefined;
    this.refresh();
  }

  // --- adoption by a new supervisor (machine-snapshot.ts) --------------------------------

  snapshot(): MachineSnapshot {
    return encodeSnapshot(this.pod, {
      slots: this.slots,
      events: this.events,
      conditions: [...this.conditions.values()],
      phase: this.phase,
      livePhase: this.livePhase,
      reason: this.reason,
      startTime: this.startTime,
      deleting: this.deleting,
      sandboxDead: this.sandboxDead,
      tornDown: this.tornDown,
      pulls: this.pulls,
    });
  }

  /** The machine a snapshot saved, with what was in flight settled (machine-snapshot.ts). */
  static restore(
    pod: Pod,
    clock: Clock,
    backoff: BackoffPolicy,
    snap: MachineSnapshot,
    images?: ImageLookup,
  ): PodMachine {
    const st: MachineState = decodeSnapshot(pod, snap);
    const m = new PodMachine(pod, clock, backoff, undefined, undefined, images);
    m.slots.splice(0, m.slots.length, ...st.slots);
    m.events.splice(0, m.events.length, ...st.events);
    m.conditions.clear();
    for (const c of st.conditions) m.conditions.set(c.type, c);
    m.phase = st.phase;
    m.livePhase = st.livePhase;
    m.reason = st.reason;
    m.startTime = st.startTime;
    m.deleting = st.deleting;
    m.sandboxDead = st.sandboxDead;
    m.tornDown = st.tornDown;
    m.pulls = st.pulls;
    // A postStart hook is not run again: the container counts as running, its hook done.
    for (const s of m.slots) if (s.phase === 'postStart') m.hookDone(s.spec.name, s.instances - 1, 'postStart', true);
    return m;
  }

  /**
   * The containers that may exist in runc (as NAME.INSTANCE, container/runc.ts containerId), for
   * a new supervisor to find. `created`: the old supervisor learnt it started; if not, runc tells
   * whether it did (started, startFailed, or startLost when runc has no such container).
   */
  containersToAdopt(): {
    name: string;
    instance: number;
    phase: 'starting' | 'running' | 'stopping';
    created: boolean;
  }[] {
    return this.slots
      .filter((s) => this.isUp(s) || s.phase === 'stopping')
      .map((s) => ({
        name: s.spec.name,
        instance: s.instances - 1,
        phase: s.phase === 'postStart' ? 'running' : (s.phase as 'starting' | 'running' | 'stopping'),
        created: s.runningSince !== undefined,
      }));
  }

  // --- what to do ------------------------------------------------------------------------

  /** The actions due now. Each is returned once: the machine assumes the supervisor does it. */
  actions(): Action[] {
    const now = this.clock.now();
    const out: Action[] = this.queue.splice(0);
    if (this.tornDown) return out;

    this.checkActiveDeadline(now);
    if (!this.deleting && !this.isFinished()) out.push(...this.startsDue(now));
    if (this.deleting || this.isFinished()) this.stopSidecarsInReverse();
    out.push(...this.queue.splice(0));

    for (const s of this.slots) {
      if (s.phase === 'running' && !s.stop) out.push(...this.probesDue(s, now));
      if (s.stop) out.push(...this.stopSteps(s, now));
    }

    if (this.allStopped() && (this.deleting || this.isFinished())) {
      this.tornDown = true;
      out.push({ type: 'teardown' });
    }
    return out;
  }

  /** When the grace period of a container being stopped ends (a foreground run says how long it waits). */
  stopDeadline(name: string): number | undefined {
    return this.slot(name).stop?.deadline;
  }

  /** When the machine next has something to do on its own (back-off, probe period, grace period, deadline). */
  wakeAt(): number | undefined {
    const times: number[] = [];
    for (const s of this.slots) {
      if (s.phase === 'backoff' && s.backoffUntil !== undefined) times.push(s.backoffUntil);
      if (s.phase === 'image' && s.imageWait?.syncAt !== undefined) times.push(s.imageWait.syncAt);
      if (s.stop && !s.stop.killed) times.push(s.stop.deadline);
      if (s.phase === 'running' && !s.stop)
        for (const p of Object.values(s.probes)) if (!p.inFlight) times.push(p.nextAt);
    }
    const ads = this.pod.spec.activeDeadlineSeconds;
    if (ads !== undefined && this.startTime !== undefined && !this.isFinished() && !this.deleting)
      times.push(this.startTime + ads * 1000);
    return times.length ? Math.min(...times) : undefined;
  }

  /** Every app container terminated and none will restart (or an init container failed for good). */
  isFinished(): boolean {
    return this.phase === 'Succeeded' || this.phase === 'Failed';
  }

  isDeleting(): boolean {
    return this.deleting !== undefined;
  }

  /**
   * The exit status of `podbox run` (docs/cli.md): 0 if the pod Succeeded, else the exit
   * code of the first container in spec order (init containers first) that failed, else 1.
   * Sidecars never decide it: the kubelet stops them, and the pod's outcome is its app containers'.
   */
  exitCode(): number {
    if (this.phase === 'Succeeded') return 0;
    for (const s of this.slots) {
      if (s.kind === 'sidecar') continue;
      const t = 'terminated' in s.status.state ? s.status.state.terminated : undefined;
      if (t && t.exitCode !== 0) return t.exitCode;
    }
    return 1;
  }

  status(): PodStatus {
    const inits = this.slots.filter((s) => s.kind !== 'app').map((s) => this.published(s.status));
    // The terminal-phase guard (kubelet_pods.go generateAPIPodStatus, status_manager.go
    // updateStatusInternal; kubernetes PR #108366): a pod is never reported Succeeded or Failed
    // while one of its containers may still run. The phase is published with the containers'
    // terminated states, in the same status.
    const terminal = this.terminalPublished();
    return {
      observedGeneration: POD_GENERATION,
      phase: terminal || !this.isFinished() ? this.phase : this.livePhase,
      ...(terminal ? (this.reason ?? {}) : {}),
      conditions: [...this.conditions.values()],
      hostIP: this.hostIP,
      hostIPs: [{ ip: this.hostIP }],
      podIP: this.podIP,
      podIPs: [{ ip: this.podIP }],
      ...(this.startTime !== undefined ? { startTime: iso(this.startTime) } : {}),
      ...(inits.length && !this.isRejected() ? { initContainerStatuses: inits } : {}),
      // A rejected pod's status is rejectPod's alone: no container status (get shows its reason).
      containerStatuses: this.isRejected()
        ? []
        : this.slots.filter((s) => s.kind === 'app').map((s) => this.published(s.status)),
      qosClass: qosClass(this.pod),
    };
  }

  /** The pod is finished and none of its containers runs: its terminal phase may be published. */
  private terminalPublished(): boolean {
    return this.isFinished() && this.allStopped();
  }

  /**
   * A container's status as published: termination messages cut to the pod's budget of 12 KiB
   * shared evenly by its containers (status_manager.go normalizeStatus, MaxPodTerminationMessageLogLength).
   */
  private published(status: ContainerStatus): ContainerStatus {
    const out = structuredClone(status);
    const budget = Math.floor(MAX_POD_TERMINATION_MESSAGE_BYTES / this.slots.length);
    for (const st of [out.state, out.lastState]) {
      const t = st && 'terminated' in st ? st.terminated : undefined;
      if (t?.message && Buffer.byteLength(t.message) > budget) {
        t.message = Buffer.from(t.message).subarray(0, budget).toString();
      }
    }
    return out;
  }

  eventLog(): PodEvent[] {
    return structuredClone(this.events);
  }

  // --- rules -----------------------------------------------------------------------------

  /**
   * Which containers start now (kuberuntime_manager.go computeInitContainerActions): init
   * containers one at a time, in order, each to success; a sidecar lets the next one start once it
   * is started; then every app container together. Sidecars that exited restart on their own.
   */
  private startsDue(now: number): Action[] {
    const out: Action[] = [];
    for (const s of this.slots) {
      if (s.phase === 'backoff' && s.backoffUntil !== undefined && now >= s.backoffUntil) s.phase = 'idle';
      const syncAt = s.phase === 'image' ? s.imageWait?.syncAt : undefined;
      if (syncAt !== undefined && now >= syncAt) s.phase = 'idle';
    }
    let initsDone = true;
    for (const s of this.slots.filter((x) => x.kind !== 'app')) {
      if (s.kind === 'sidecar' && s.everStarted) {
        if (s.phase === 'idle') out.push(...this.ensureImage(s, now));
        continue;
      }
      if (s.kind === 'init' && s.phase === 'done' && s.succeeded) continue;
      // https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
      if (s.phase === 'idle') out.push(...this.ensureImage(s, now));
      initsDone = false;
      break;
    }
    if (initsDone)
      for (const s of this.slots) if (s.kind === 'app' && s.phase === 'idle') out.push(...this.ensureImage(s, now));
    return out;
  }

  /**
   * A container's turn to start (kuberuntime_manager.go SyncPod steps 6 and 7): its image first
   * (image_manager.go EnsureImageExists, kuberuntime_container.go startContainer's "Step 1: pull
   * the image", at every start, restarts too): present and not to be
   * pulled, it starts ("already present on machine"); absent under Never, it waits with
   * ErrImageNeverPull; in the image's back-off, with ImagePullBackOff; else the image is pulled
   * (one pull for every container that waits on the same image) and it waits for it.
   * Every refusal also says "Error: REASON" (startContainer's Failed event).
   */
  private ensureImage(s: Slot, now: number): Action[] {
    const image = s.spec.image;
    if (s.imageReady) {
      const ready = s.imageReady;
      s.imageReady = undefined;
      return [this.start(s, ready)];
    }
    const local = this.images(image);
    if (!shouldPull(s.spec.imagePullPolicy, local !== undefined)) {
      if (local) {
        this.record('Normal', 'Pulled', imageWords.present(image), s);
        return [this.start(s, local)];
      }
      this.record('Warning', ERR_IMAGE_NEVER_PULL, imageWords.neverPull(image), s);
      this.imageTrouble(s, ERR_IMAGE_NEVER_PULL, imageWords.neverPull(image), nextImageSync(this.backoff, now, false));
      return [];
    }
    const p = this.pulls[image];
    if (p?.startedAt === undefined && inBackoff(p, now)) {
      this.record('Normal', 'BackOff', imageWords.backOff(image), s);
      this.imageTrouble(s, IMAGE_PULL_BACK_OFF, imageWords.backOff(image), nextImageSync(this.backoff, now, false, p));
      return [];
    }
    s.phase = 'image';
    s.imageWait = { pulling: image };
    if (p?.startedAt !== undefined) {
      this.record('Normal', 'Pulling', imageWords.pulling(image), s);
      return [];
    }
    if (this.missingPullSecrets.length)
      this.record('Warning', MISSING_PULL_SECRETS_REASON, missingPullSecretsMessage(this.missingPullSecrets));
    this.record('Normal', 'Pulling', imageWords.pulling(image), s);
    this.pulls[image] = { backoffSeconds: p?.backoffSeconds ?? 0, lastUpdate: p?.lastUpdate ?? 0, startedAt: now };
    return [{ type: 'pull', image }];
  }

  /**
   * The container cannot have its image now: it waits with `reason` and EnsureImageExists' message
   * (kubelet_pods.go convertToAPIContainerStatuses: the reason cache's error and message), and is
   * looked at again at `syncAt`.
   */
  private imageTrouble(s: Slot, reason: string, message: string, syncAt: number): void {
    this.record('Warning', 'Failed', imageWords.error(reason), s);
    s.phase = 'image';
    s.imageWait = { syncAt };
    s.status.state = { waiting: { reason, message } };
  }

  private waitingOn(image: string): Slot[] {
    return this.slots.filter((s) => s.phase === 'image' && s.imageWait?.pulling === image);
  }

  /**
   * Probes due now (prober/worker.go): nothing before initialDelaySeconds; the startup probe
   * alone until it succeeds; one run of each probe at a time, every periodSeconds.
   */
  private probesDue(s: Slot, now: number): Action[] {
    const out: Action[] = [];
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const p = s.probes[kind];
      if (!p || p.inFlight || now < p.nextAt) continue;
      if (kind !== 'startup' && s.probes.startup) continue;
      p.inFlight = true;
      out.push({ type: 'probe', container: s.spec.name, instance: s.instances - 1, probe: kind });
    }
    return out;
  }

  /**
   * Stopping one container (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/#hook-handler-execution,
   * kuberuntime_container.go killContainer): the preStop hook first, inside the grace period;
   * then the stop signal; SIGKILL when the grace period ends. A preStop hook that overruns gets
   * the kubelet's one-time extension of 2 s before SIGKILL.
   */
  private stopSteps(s: Slot, now: number): Action[] {
    const st = s.stop!;
    const name = s.spec.name;
    const out: Action[] = [];
    if (st.preStop === 'due') {
      st.preStop = 'running';
      out.push({
        type: 'hook',
        container: name,
        instance: s.instances - 1,
        hook: 'preStop',
        timeoutSeconds: Math.max(0, (st.deadline - now) / 1000),
      });
      return out;
    }
    if (st.preStop === 'running') {
      if (now < st.deadline) return out;
      this.preStopOver(s);
    }
    if (!st.signalled) {
      st.signalled = true;
      out.push({ type: 'kill', container: name, signal: now >= st.deadline ? 'SIGKILL' : 'SIGTERM' });
      if (now >= st.deadline) st.killed = true;
    } else if (!st.killed && now >= st.deadline) {
      st.killed = true;
      out.push({ type: 'kill', container: name, signal: 'SIGKILL' });
    }
    return out;
  }

  private preStopOver(s: Slot): void {
    const st = s.stop!;
    st.preStop = 'over';
    st.deadline = Math.max(st.deadline, this.clock.now() + MINIMUM_GRACE_PERIOD_SECONDS * 1000);
  }

  private beginStop(s: Slot, reason: StopReason, graceSeconds: number): void {
    if (s.stop || !this.isUp(s)) return;
    if (reason === 'delete' || reason === 'finished' || reason === 'deadline' || reason === 'evicted')
      this.record('Normal', 'Killing', `Stopping container ${s.spec.name}`, s);
    // postStart still running: the kubelet does not run preStop for a container that never started.
    const preStop = s.spec.lifecycle?.preStop && s.phase === 'running' ? 'due' : 'none';
    s.phase = 'stopping';
    s.status.ready = false;
    s.stop = { reason, deadline: this.clock.now() + graceSeconds * 1000, preStop, signalled: false, killed: false };
  }

  /** Sidecars stop after every other container, in reverse order, one after the other. */
  private stopSidecarsInReverse(): void {
    if (this.slots.some((s) => s.kind !== 'sidecar' && (this.isUp(s) || s.phase === 'stopping'))) return;
    const sidecars = this.slots.filter((s) => s.kind === 'sidecar');
    for (const s of sidecars) if (isWaiting(s)) s.phase = 'done';
    const last = [...sidecars].reverse().find((s) => this.isUp(s) || s.phase === 'stopping');
    if (!last || last.phase === 'stopping') return;
    const grace = this.deleting
      ? Math.max(0, (this.deleting.deadline - this.clock.now()) / 1000)
      : this.pod.spec.terminationGracePeriodSeconds;
    this.beginStop(last, this.deleting ? 'delete' : 'finished', grace);
  }

  /** activeDeadlineSeconds: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase (kubelet DeadlineExceeded). */
  private checkActiveDeadline(now: number): void {
    const ads = this.pod.spec.activeDeadlineSeconds;
    if (ads === undefined || this.startTime === undefined || this.isFinished() || this.deleting) return;
    if (now < this.startTime + ads * 1000) return;
    const message = 'Pod was active on the node longer than the specified deadline';
    this.phase = 'Failed';
    this.reason = { reason: 'DeadlineExceeded', message };
    this.record('Normal', 'DeadlineExceeded', message);
    for (const s of this.slots) {
      if (isWaiting(s)) s.phase = 'done';
      if (s.kind !== 'sidecar') this.beginStop(s, 'deadline', this.pod.spec.terminationGracePeriodSeconds);
    }
    this.refresh();
  }

  /**
   * The eviction manager evicts the pod (eviction/eviction_manager.go evictPod): a Warning `Evicted`
   * event, the pod Failed with reason `Evicted` and `message`, and every container (sidecars too)
   * killed with the grace period override 0 that local-storage evictions use: SIGKILL at once, no
   * preStop (kuberuntime_container.go killContainer: an override is a hard kill). Nothing restarts.
   */
  evicted(message: string): void {
    if (this.isFinished() || this.deleting || this.sandboxDead) return;
    this.phase = 'Failed';
    this.reason = { reason: 'Evicted', message };
    this.record('Warning', 'Evicted', message);
    for (const s of this.slots) {
      if (isWaiting(s)) s.phase = 'done';
      this.beginStop(s, 'evicted', 0);
      if (s.stop) s.stop.preStop = 'none';
    }
    this.refresh();
  }

  private start(s: Slot, image: LocalImage): Action {
    s.phase = 'starting';
    s.imageWait = undefined;
    s.instances += 1;
    if (s.instances > 1) s.status.restartCount = s.instances - 1;
    s.status.imageID = image.imageID;
    s.status.state = { waiting: { reason: 'ContainerCreating' } };
    return { type: 'start', container: s.spec.name, instance: s.instances - 1, kind: s.kind, image: image.id };
  }

  private becomeRunning(s: Slot): void {
    const since = s.runningSince ?? this.clock.now();
    s.phase = 'running';
    s.status.state = { running: { startedAt: iso(since) } };
    // Probes start after initialDelaySeconds, counted from the container's start (prober/worker.go).
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const spec: Probe | undefined = s.spec[PROBE_FIELD[kind]];
      if (spec)
        s.probes[kind] = {
          nextAt: since + spec.initialDelaySeconds * 1000,
          inFlight: false,
          successes: 0,
          failures: 0,
        };
    }
    if (!s.probes.startup) this.markStarted(s);
  }

  /** `started`: running with its startup probe (if any) passed; `ready` too when it has no readiness probe. */
  private markStarted(s: Slot): void {
    s.status.started = true;
    s.everStarted = true;
    // A running regular init container is not ready: only its success makes it so (prober_manager.go).
    if (!s.spec.readinessProbe && s.kind !== 'init') s.status.ready = true;
    for (const kind of ['liveness', 'readiness'] as const) {
      const p = s.probes[kind];
      if (p) p.nextAt = Math.max(p.nextAt, this.clock.now());
    }
  }

  private isUp(s: Slot): boolean {
    return s.phase === 'starting' || s.phase === 'postStart' || s.phase === 'running';
  }

  /**
   * restartPolicy (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy):
   * app containers follow the pod's policy; init containers restart on failure unless it is
   * Never; sidecars always restart.
   */
  private shouldRestart(s: Slot): boolean {
    const policy = this.pod.spec.restartPolicy;
    if (s.kind === 'sidecar') return true;
    if (s.kind === 'init') return !s.succeeded && policy !== 'Never';
    if (policy === 'Always') return true;
    if (policy === 'OnFailure') return !s.succeeded;
    return false;
  }

  private scheduleRestart(s: Slot, ranForSeconds: number, exitedAt: number): void {
    const b = this.backoff;
    if (ranForSeconds >= b.resetAfterSeconds) s.backoffSeconds = 0;
    const delay = s.backoffSeconds;
    s.backoffSeconds = delay === 0 ? b.initialSeconds : Math.min(delay * 2, b.maxSeconds);
    s.phase = 'backoff';
    s.backoffUntil = exitedAt + delay * 1000;
    s.status.lastState = s.status.state;
    if (delay > 0) {
      s.status.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${goDuration(delay)} restarting failed container=${s.spec.name} pod=${this.podRef}`,
        },
      };
      this.record('Warning', 'BackOff', `Back-off restarting failed container ${s.spec.name} in pod ${this.podRef}`, s);
    }
  }

  private allStopped(): boolean {
    return this.slots.every((s) => !this.isUp(s) && s.phase !== 'stopping');
  }

  /** Phase and conditions, as kubelet_pods.go getPhase and pkg/kubelet/status/generate.go. */
  private refresh(): void {
    const inits = this.slots.filter((s) => s.kind === 'init');
    const sidecars = this.slots.filter((s) => s.kind === 'sidecar');
    const apps = this.slots.filter((s) => s.kind === 'app');
    const initFailedForGood = inits.some((s) => s.phase === 'done' && !s.succeeded);
    const initDone = inits.every((s) => s.phase === 'done' && s.succeeded) && sidecars.every((s) => s.everStarted);
    const appsDone = apps.every((s) => s.phase === 'done');

    let phase: PodPhase;
    if (initFailedForGood && !this.deleting) phase = 'Failed';
    else if (!initDone) phase = 'Pending';
    else if (appsDone && apps.every((s) => s.instances > 0))
      phase = apps.every((s) => s.succeeded) ? 'Succeeded' : 'Failed';
    else if (apps.some((s) => s.instances > 0)) phase = 'Running';
    else phase = 'Pending';
    if (!this.isFinished()) this.phase = phase;
    if (!this.isFinished()) this.livePhase = phase;

    if (initDone) {
      this.setCondition('Initialized', true);
      for (const s of apps)
        if (s.phase === 'idle' && s.instances === 0 && 'waiting' in s.status.state)
          s.status.state = { waiting: { reason: 'ContainerCreating' } };
    } else {
      const pending = [
        ...inits.filter((s) => !(s.phase === 'done' && s.succeeded)),
        ...sidecars.filter((s) => !s.everStarted),
      ].map((s) => s.spec.name);
      this.setCondition(
        'Initialized',
        false,
        'ContainersNotInitialized',
        `containers with incomplete status: [${pending.join(' ')}]`,
      );
    }
    // Ready counts app containers and sidecars (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/).
    const counted = [...sidecars, ...apps];
    const finished = this.terminalPublished();
    const ready = !this.isFinished() && initDone && counted.every((s) => s.status.ready);
    const reason = finished ? 'PodCompleted' : 'ContainersNotReady';
    const notReady = counted.filter((s) => !s.status.ready).map((s) => s.spec.name);
    const message = finished ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
    this.setCondition('ContainersReady', ready, ready ? undefined : reason, ready ? undefined : message);
    this.setCondition('Ready', ready, ready ? undefined : reason, ready ? undefined : message);
  }

  private setCondition(type: PodCondition['type'], ok: boolean, reason?: string, message?: string): void {
    const status = ok ? 'True' : 'False';
    const prev = this.conditions.get(type);
    const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : iso(this.clock.now());
    this.conditions.set(type, {
      type,
      observedGeneration: POD_GENERATION,
      status,
      lastProbeTime: null,
      lastTransitionTime,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    });
  }

  /** `times`: how many occurrences this one stands for (lost log lines come in batches). */
  private record(type: PodEvent['type'], reason: string, message: string, s?: Slot, times = 1): void {
    const now = iso(this.clock.now());
    const fieldPath = s ? containerFieldPath(s.kind !== 'app', s.spec.name) : undefined;
    // Identical events are aggregated with a count, as the API server's event correlator does.
    const same = this.events.find(
      (e) => e.type === type && e.reason === reason && e.message === message && e.fieldPath === fieldPath,
    );
    if (same) {
      same.count += times;
      same.lastTimestamp = now;
      return;
    }
    this.events.push({
      type,
      reason,
      message,
      ...(fieldPath ? { fieldPath } : {}),
      count: times,
      firstTimestamp: now,
      lastTimestamp: now,
    });
  }

  private slot(name: string): Slot {
    const s = this.slots.find((x) => x.spec.name === name);
    if (!s) throw new Error(`no container ${name}`);
    return s;
  }
}

/** Not up and not done: waiting for its turn, its back-off or its image. */
function isWaiting(s: Slot): boolean {
  return s.phase === 'idle' || s.phase === 'backoff' || s.phase === 'image';
}

/** The reason of the event that counts a container's lost log lines (PodMachine.logLinesLost). */
export const LOG_LINES_LOST = 'LogLinesLost';

/** An event's fieldPath for a container, as kubectl describe shows it: spec.containers{web}. */
export function containerFieldPath(init: boolean, name: string): string {
  return `spec.${init ? 'initContainers' : 'containers'}{${name}}`;
}

/** The log lines of a container lost so far, from its LogLinesLost events. */
export function logLinesLostOf(events: PodEvent[], init: boolean, name: string): number {
  const fieldPath = containerFieldPath(init, name);
  const lost = events.filter((e) => e.reason === LOG_LINES_LOST && e.fieldPath === fieldPath);
  return lost.reduce((n, e) => n + e.count, 0);
}

/** How the kubelet names a pod in messages (format.Pod): NAME_NAMESPACE(UID). */
export function podRef(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid ?? ''})`;
}

/**
 * QoS class, as pkg/apis/core/v1/helper/qos GetPodQOS (https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/):
 * only cpu and memory count, and a zero quantity is no quantity; BestEffort without any;
 * Guaranteed when every container (init containers too) limits both cpu and memory and the
 * requests, a limit standing in for a request left out (the API server's defaulting), add up to
 * the limits; Burstable otherwise.
 */
export function qosClass(pod: Pod): PodStatus['qosClass'] {
  // Pod-level resources decide alone where given (qos.go GetPodQOS → ComputePodQOS, PodLevelResources).
  if (pod.spec.resources) return qosOf([pod.spec.resources]);
  return qosOf(allContainers(pod).map((c) => c.resources));
}

function qosOf(all: (Container['resources'] | undefined)[]): PodStatus['qosClass'] {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  const add = (to: Map<string, number>, name: string, q: number) => to.set(name, (to.get(name) ?? 0) + q);
  for (const r of all) {
    const limited = new Set<string>();
    for (const name of QOS_RESOURCES) {
      const limit = quantityValue(r?.limits?.[name] ?? 0) ?? 0;
      const request = quantityValue(r?.requests?.[name] ?? 0) ?? 0;
      if (limit > 0) {
        add(limits, name, limit);
        limited.add(name);
      }
      const effective = request > 0 ? request : r?.requests?.[name] === undefined ? limit : 0;
      if (effective > 0) add(requests, name, effective);
    }
    if (limited.size !== QOS_RESOURCES.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  const same = (a = 0, b = 0) => Math.abs(a - b) <= 1e-9 * Math.max(a, b);
  if (guaranteed && QOS_RESOURCES.every((n) => same(requests.get(n), limits.get(n)))) return 'Guaranteed';
  return 'Burstable';
}

const QOS_RESOURCES = ['cpu', 'memory'];
