import type { Container, Pod } from '../spec/types.js';
import { iso, type ContainerState, type ContainerStatus, type PodCondition, type PodEvent, type PodPhase, type PodStatus } from './status.js';
import { goDuration, type BackoffPolicy, type Clock } from './timing.js';

/**
 * One state machine per pod, as the kubelet's pod worker (pkg/kubelet/pod_workers.go,
 * kuberuntime_manager.go computePodActions). It never touches the kernel: the supervisor feeds it
 * what happened (started, exited, delete requested, time passed) and performs the actions it
 * returns (start, kill, tear down). The clock is injected so unit tests can drive back-off
 * without sleeping.
 *
 * Per container:   idle ──start──▶ starting ──started──▶ running ──exit──▶ exited
 *                    ▲                                      │stop           │
 *                    └──────── back-off expired ◀── backoff ◀──restart policy┘──▶ done
 * Pod:  Pending (init containers one at a time, in order) ─▶ Running (app containers together)
 *       ─▶ Succeeded | Failed (every app container done) ─▶ teardown.
 *       Delete at any time: stop running containers (grace, then SIGKILL) ─▶ teardown.
 */

export type ContainerKind = 'init' | 'app';

type SlotPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'backoff' | 'done';

interface Slot {
  spec: Container;
  kind: ContainerKind;
  phase: SlotPhase;
  status: ContainerStatus;
  /** how many instances were created */
  instances: number;
  runningSince?: number;
  /** kubelet back-off: the delay before the next restart (0 = restart at once) */
  backoffSeconds: number;
  backoffUntil?: number;
  /** the container exited with code 0 (for init containers: may move on) */
  succeeded?: boolean;
}

export type Action =
  | { type: 'start'; container: string; instance: number; kind: ContainerKind }
  | { type: 'kill'; container: string; signal: 'SIGTERM' | 'SIGKILL' }
  | { type: 'teardown' };

export class PodMachine {
  private readonly slots: Slot[];
  private readonly events: PodEvent[] = [];
  private readonly conditions = new Map<PodCondition['type'], PodCondition>();
  private phase: PodPhase = 'Pending';
  private startTime?: number;
  private deleting?: { deadline: number; killed: boolean };
  private tornDown = false;
  private readonly podRef: string;

  constructor(
    readonly pod: Pod,
    private readonly clock: Clock,
    private readonly backoff: BackoffPolicy,
    readonly hostIP = '127.0.0.1',
    readonly podIP = '127.0.0.1',
  ) {
    const slot = (spec: Container, kind: ContainerKind): Slot => ({
      spec,
      kind,
      phase: 'idle',
      instances: 0,
      backoffSeconds: 0,
      status: {
        name: spec.name,
        image: spec.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: kind === 'init' ? 'PodInitializing' : 'PodInitializing' } },
        lastState: {},
      },
    });
    this.slots = [...(pod.spec.initContainers ?? []).map((c) => slot(c, 'init')), ...pod.spec.containers.map((c) => slot(c, 'app'))];
    for (const s of this.slots) if (s.kind === 'init' || !pod.spec.initContainers?.length) s.status.state = { waiting: { reason: 'ContainerCreating' } };
    // kubelet's format.Pod(): NAME_NAMESPACE(UID)
    this.podRef = `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid ?? ''})`;
    this.setCondition('PodScheduled', true);
    this.setCondition('Initialized', !pod.spec.initContainers?.length);
    this.setCondition('ContainersReady', false, 'ContainersNotReady');
    this.setCondition('Ready', false, 'ContainersNotReady');
    this.record('Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to podbox`);
  }

  // --- what happened ---------------------------------------------------------------------

  sandboxReady(): void {
    this.startTime ??= this.clock.now();
  }

  /** The image of a container was resolved (kubelet: Pulled / "already present on machine"). */
  imageResolved(name: string, imageID: string): void {
    const s = this.slot(name);
    s.status.imageID = imageID;
    this.record('Normal', 'Pulled', `Container image "${s.spec.image}" already present on machine`, s);
  }

  started(name: string, containerID: string): void {
    const s = this.slot(name);
    const now = this.clock.now();
    s.phase = 'running';
    s.runningSince = now;
    s.status.containerID = containerID;
    s.status.state = { running: { startedAt: iso(now) } };
    s.status.started = true;
    s.status.ready = true; // no readiness probe: ready once running (probes come with the lifecycle issue)
    this.record('Normal', 'Started', `Started container ${name}`, s);
    this.refresh();
  }

  /** The runtime could not start the container (kubelet: StartError, exit code 128). */
  startFailed(name: string, message: string): void {
    const s = this.slot(name);
    this.record('Warning', 'Failed', `Error: ${message}`, s);
    s.runningSince = this.clock.now();
    this.exited(name, 128, undefined, 'StartError', message);
  }

  exited(name: string, exitCode: number, signal?: number, reasonOverride?: string, message?: string): void {
    const s = this.slot(name);
    const now = this.clock.now();
    const startedAt = 'running' in s.status.state ? s.status.state.running.startedAt : undefined;
    const reason = reasonOverride ?? (exitCode === 0 ? 'Completed' : 'Error');
    s.status.state = {
      terminated: {
        exitCode, reason, finishedAt: iso(now),
        ...(signal ? { signal } : {}), ...(startedAt ? { startedAt } : {}), ...(message ? { message } : {}),
        ...(s.status.containerID ? { containerID: s.status.containerID } : {}),
      },
    };
    s.status.ready = false;
    s.status.started = false;
    s.succeeded = exitCode === 0;
    const ranFor = s.runningSince !== undefined ? (now - s.runningSince) / 1000 : 0;
    s.runningSince = undefined;

    if (this.deleting || s.phase === 'stopping') {
      s.phase = 'done';
    } else if (this.shouldRestart(s)) {
      this.scheduleRestart(s, ranFor);
    } else {
      s.phase = 'done';
    }
    this.refresh();
  }

  /** Graceful deletion: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination */
  deleteRequested(graceSeconds: number): void {
    const now = this.clock.now();
    const deadline = now + graceSeconds * 1000;
    if (this.deleting) {
      // A second request may only shorten the grace period, as with kubectl delete.
      this.deleting.deadline = Math.min(this.deleting.deadline, deadline);
      return;
    }
    this.deleting = { deadline, killed: false };
    for (const s of this.slots) {
      if (s.phase === 'idle' || s.phase === 'backoff') s.phase = 'done';
    }
  }

  // --- what to do ------------------------------------------------------------------------

  /** The actions due now. Each is returned once: the machine assumes the supervisor does it. */
  actions(): Action[] {
    const now = this.clock.now();
    const out: Action[] = [];
    if (this.tornDown) return out;

    if (this.deleting) {
      const grace = now >= this.deleting.deadline;
      for (const s of this.slots) {
        if (s.phase === 'running' || s.phase === 'starting') {
          s.phase = 'stopping';
          this.record('Normal', 'Killing', `Stopping container ${s.spec.name}`, s);
          out.push({ type: 'kill', container: s.spec.name, signal: grace ? 'SIGKILL' : 'SIGTERM' });
        } else if (s.phase === 'stopping' && grace && !this.deleting.killed) {
          out.push({ type: 'kill', container: s.spec.name, signal: 'SIGKILL' });
        }
      }
      if (grace) this.deleting.killed = true;
    } else {
      for (const s of this.slots) {
        if (s.phase === 'backoff' && s.backoffUntil !== undefined && now >= s.backoffUntil) s.phase = 'idle';
      }
      const inits = this.slots.filter((s) => s.kind === 'init');
      const pendingInit = inits.find((s) => !(s.phase === 'done' && s.succeeded));
      if (pendingInit) {
        // Init containers run one at a time, in order, each to success
        // (https://kubernetes.io/docs/concepts/workloads/pods/init-containers/).
        if (pendingInit.phase === 'idle' && this.phase !== 'Failed') out.push(this.start(pendingInit));
      } else {
        for (const s of this.slots) if (s.kind === 'app' && s.phase === 'idle') out.push(this.start(s));
      }
    }

    if (this.allStopped() && (this.deleting || this.isFinished())) {
      this.tornDown = true;
      out.push({ type: 'teardown' });
    }
    return out;
  }

  /** When the machine next has something to do on its own (a back-off or grace period ending). */
  wakeAt(): number | undefined {
    if (this.deleting && !this.deleting.killed) return this.deleting.deadline;
    const times = this.slots.filter((s) => s.phase === 'backoff' && s.backoffUntil !== undefined).map((s) => s.backoffUntil!);
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
   * The exit status of `podbox run` (../shared/CONTRACT.md): 0 if the pod Succeeded, else the exit
   * code of the first container in spec order (init containers first) that failed, else 1.
   */
  exitCode(): number {
    if (this.phase === 'Succeeded') return 0;
    for (const s of this.slots) {
      const t = 'terminated' in s.status.state ? s.status.state.terminated : undefined;
      if (t && t.exitCode !== 0) return t.exitCode;
    }
    return 1;
  }

  status(): PodStatus {
    const inits = this.slots.filter((s) => s.kind === 'init').map((s) => s.status);
    return {
      phase: this.phase,
      conditions: [...this.conditions.values()],
      hostIP: this.hostIP,
      podIP: this.podIP,
      podIPs: [{ ip: this.podIP }],
      ...(this.startTime !== undefined ? { startTime: iso(this.startTime) } : {}),
      ...(inits.length ? { initContainerStatuses: structuredClone(inits) } : {}),
      containerStatuses: structuredClone(this.slots.filter((s) => s.kind === 'app').map((s) => s.status)),
      qosClass: qosClass(this.pod),
    };
  }

  eventLog(): PodEvent[] {
    return structuredClone(this.events);
  }

  // --- rules -----------------------------------------------------------------------------

  private start(s: Slot): Action {
    s.phase = 'starting';
    s.instances += 1;
    if (s.instances > 1) s.status.restartCount = s.instances - 1;
    s.status.state = { waiting: { reason: 'ContainerCreating' } };
    this.record('Normal', 'Created', `Created container ${s.spec.name}`, s);
    return { type: 'start', container: s.spec.name, instance: s.instances - 1, kind: s.kind };
  }

  /**
   * restartPolicy (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy):
   * app containers follow the pod's policy; init containers restart on failure unless it is Never.
   */
  private shouldRestart(s: Slot): boolean {
    const policy = this.pod.spec.restartPolicy;
    if (s.kind === 'init') return !s.succeeded && policy !== 'Never';
    if (policy === 'Always') return true;
    if (policy === 'OnFailure') return !s.succeeded;
    return false;
  }

  private scheduleRestart(s: Slot, ranForSeconds: number): void {
    const b = this.backoff;
    if (ranForSeconds >= b.resetAfterSeconds) s.backoffSeconds = 0;
    const delay = s.backoffSeconds;
    s.backoffSeconds = delay === 0 ? b.initialSeconds : Math.min(delay * 2, b.maxSeconds);
    s.phase = 'backoff';
    s.backoffUntil = this.clock.now() + delay * 1000;
    if (delay > 0) {
      s.status.lastState = s.status.state;
      s.status.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${goDuration(delay)} restarting failed container=${s.spec.name} pod=${this.podRef}`,
        },
      };
      this.record('Warning', 'BackOff', `Back-off restarting failed container ${s.spec.name} in pod ${this.podRef}`, s);
    } else {
      s.status.lastState = s.status.state;
    }
  }

  private allStopped(): boolean {
    return this.slots.every((s) => s.phase !== 'running' && s.phase !== 'starting' && s.phase !== 'stopping');
  }

  /** Phase and conditions, as kubelet_pods.go getPhase and pkg/kubelet/status/generate.go. */
  private refresh(): void {
    const inits = this.slots.filter((s) => s.kind === 'init');
    const apps = this.slots.filter((s) => s.kind === 'app');
    const initFailedForGood = inits.some((s) => s.phase === 'done' && !s.succeeded);
    const initDone = inits.every((s) => s.phase === 'done' && s.succeeded);
    const appsDone = apps.every((s) => s.phase === 'done');

    let phase: PodPhase;
    if (initFailedForGood && !this.deleting) phase = 'Failed';
    else if (!initDone) phase = this.phase === 'Failed' ? 'Failed' : 'Pending';
    else if (appsDone && apps.every((s) => s.instances > 0)) phase = apps.every((s) => s.succeeded) ? 'Succeeded' : 'Failed';
    else if (apps.some((s) => s.phase === 'running' || s.instances > 0)) phase = 'Running';
    else phase = 'Pending';
    if (this.phase !== 'Succeeded' && this.phase !== 'Failed') this.phase = phase;

    if (initDone) {
      this.setCondition('Initialized', true);
      for (const s of apps) if (s.phase === 'idle' && s.instances === 0 && 'waiting' in s.status.state) s.status.state = { waiting: { reason: 'ContainerCreating' } };
    }
    const finished = this.phase === 'Succeeded' || this.phase === 'Failed';
    const ready = !finished && apps.every((s) => s.status.ready);
    const reason = finished ? 'PodCompleted' : 'ContainersNotReady';
    const notReady = apps.filter((s) => !s.status.ready).map((s) => s.spec.name);
    const message = finished ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
    this.setCondition('ContainersReady', ready, ready ? undefined : reason, ready ? undefined : message);
    this.setCondition('Ready', ready, ready ? undefined : reason, ready ? undefined : message);
    if (!initDone && !initFailedForGood) {
      const pending = inits.filter((s) => !(s.phase === 'done' && s.succeeded)).map((s) => s.spec.name);
      this.setCondition('Initialized', false, 'ContainersNotInitialized', `containers with incomplete status: [${pending.join(' ')}]`);
    } else if (initFailedForGood) {
      this.setCondition('Initialized', false, 'ContainersNotInitialized', `containers with incomplete status: [${inits.filter((s) => !s.succeeded).map((s) => s.spec.name).join(' ')}]`);
    }
  }

  private setCondition(type: PodCondition['type'], ok: boolean, reason?: string, message?: string): void {
    const status = ok ? 'True' : 'False';
    const prev = this.conditions.get(type);
    const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : iso(this.clock.now());
    this.conditions.set(type, {
      type, status, lastProbeTime: null, lastTransitionTime,
      ...(reason ? { reason } : {}), ...(message ? { message } : {}),
    });
  }

  private record(type: PodEvent['type'], reason: string, message: string, s?: Slot): void {
    const now = iso(this.clock.now());
    const fieldPath = s ? `spec.${s.kind === 'init' ? 'initContainers' : 'containers'}{${s.spec.name}}` : undefined;
    // Identical events are aggregated with a count, as the API server's event correlator does.
    const same = this.events.find((e) => e.type === type && e.reason === reason && e.message === message && e.fieldPath === fieldPath);
    if (same) {
      same.count += 1;
      same.lastTimestamp = now;
      return;
    }
    this.events.push({ type, reason, message, ...(fieldPath ? { fieldPath } : {}), count: 1, firstTimestamp: now, lastTimestamp: now });
  }

  private slot(name: string): Slot {
    const s = this.slots.find((x) => x.spec.name === name);
    if (!s) throw new Error(`no container ${name}`);
    return s;
  }
}

/** QoS class (https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/). */
export function qosClass(pod: Pod): PodStatus['qosClass'] {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const has = (c: Container) => Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0;
  if (!all.some(has)) return 'BestEffort';
  const guaranteed = all.every((c) => {
    const l = c.resources?.limits ?? {};
    const r = c.resources?.requests ?? {};
    return ['cpu', 'memory'].every((k) => l[k] !== undefined && (r[k] === undefined || r[k] === l[k]));
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
