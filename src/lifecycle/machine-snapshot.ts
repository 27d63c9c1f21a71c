import type { Pod } from '../api/types.js';
import { allContainers } from '../api/containers.js';
import type { PodCondition, PodEvent, PodPhase } from '../api/status.js';
import { PodboxError } from '../errors.js';
import type { ContainerKind, Slot } from './pod-machine.js';
import type { ImagePull } from './image-pulls.js';

/**
 * A pod machine saved by one supervisor and restored by the next (PodMachine.snapshot / restore),
 * so that pods outlive their supervisor as they outlive a restarted kubelet: restart counts,
 * back-offs, probe counters and schedules, conditions, events, phase and a deletion in progress
 * all go on. The snapshot is plain JSON data; times are epoch milliseconds of the machine's clock.
 * Container specs are not in it: they come back from the pod, and a snapshot whose pod or
 * container list differs is refused.
 *
 * What was in flight when the old supervisor died is not in flight in the new one: its probes,
 * hooks and signals died with it, and the machine cannot know whether it performed the last
 * actions it was given. restore settles each kind of action (settleInFlight; the machine's own
 * queue only ever holds postStart hooks, so it is not saved):
 *
 *   start     kept: the slot stays 'starting' and PodMachine.containersToAdopt lists it; the
 *             supervisor asks runc for NAME.INSTANCE and reports started(), exited() or
 *             startFailed(), or startLost() if runc never created it (then it is started again
 *             with the same instance, as a restarted kubelet whose computePodActions finds no
 *             container starts one, kuberuntime_manager.go).
 *   postStart dropped, not run again: the container counts as running with its hook done. The
 *             kubelet runs postStart inside startContainer (kuberuntime_container.go) and a
 *             restarted kubelet that finds the container running never runs it again.
 *   probe     dropped: its result will never come, so it is due again at once; the other probes
 *             keep their schedule, and every counter is kept. (The kubelet's probe workers live in
 *             memory, so a restarted kubelet starts them over from zero, after a random part of
 *             a period, prober/worker.go run; podbox has the counters, so a liveness probe that
 *             failed twice of three still kills at its next failure.)
 *   preStop   considered over: the stop signal goes next and SIGKILL stays at the original
 *             deadline. (A restarted kubelet would run preStop again with the whole grace period,
 *             kuberuntime_container.go killContainer, as it keeps no record of the first run;
 *             podbox keeps the deadline the user's delete promised instead, and a hook that may
 *             have done its work is not run twice. Hooks are promised at least once, so a preStop
 *             the old supervisor had not begun is still run: one that is 'due' stays due.
 *             https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/#hook-delivery-guarantees)
 *   kill      re-issued: SIGTERM (SIGKILL once the deadline passed) or SIGKILL again; a signal
 *             twice is harmless to a stopping container, a signal never sent would leave it up.
 *             Not when the sandbox died: no process is left to signal.
 *   teardown  re-issued: the old supervisor may have died halfway through it, so the supervisor's
 *             teardown must tolerate what is already gone.
 *   pull      given again: the pull died with the old supervisor (what it had downloaded stays in
 *             the store's cache), so the containers that waited on it look at their image again at
 *             once, and pull it again with a new Pulling event (as a restarted kubelet's next
 *             SyncPod calls EnsureImageExists again); the image's back-off is kept.
 *
 * Exits that happened while no supervisor ran reach the restored machine later, with the time
 * pause recorded: exited(..., at) dates the termination and the back-off from that time.
 */

export const MACHINE_SNAPSHOT_VERSION = 1;

/** One shape with the machine's state (MachineState): the slots lose their specs, the pod is named. */
export type MachineSnapshot = Omit<MachineState, 'slots'> & {
  version: typeof MACHINE_SNAPSHOT_VERSION;
  pod: { namespace: string; name: string; uid: string };
  /** init containers (and sidecars), then app containers, in spec order */
  containers: ContainerSnapshot[];
};

/** A container slot without its spec, which comes back from the pod. */
export type ContainerSnapshot = Omit<Slot, 'spec'> & { name: string };

/** The whole mutable state of a PodMachine, as it holds it. */
export interface MachineState {
  slots: Slot[];
  events: PodEvent[];
  conditions: PodCondition[];
  phase: PodPhase;
  livePhase: PodPhase;
  reason?: { reason: string; message: string };
  startTime?: number;
  deleting?: { deadline: number };
  sandboxDead: boolean;
  tornDown: boolean;
  /** each image's back-off and the pull under way (image-pulls.ts); absent in snapshots of podbox before pulls */
  pulls: Record<string, ImagePull>;
}

/**
 * The machine's state as a snapshot: a deep copy through JSON, so the machine going on does not
 * change it, and a snapshot read back from its file is the same as the one written.
 */
export function encodeSnapshot(pod: Pod, st: MachineState): MachineSnapshot {
  const { slots, ...rest } = st;
  const containers = slots.map(({ spec, ...slot }): ContainerSnapshot => ({ name: spec.name, ...slot }));
  const snap: MachineSnapshot = { version: MACHINE_SNAPSHOT_VERSION, pod: podIdentity(pod), containers, ...rest };
  return JSON.parse(JSON.stringify(snap)) as MachineSnapshot;
}

/**
 * The state a snapshot restores for `pod`, with what was in flight settled (see above). Throws
 * if the snapshot is of another version, another pod or another list of containers.
 */
export function decodeSnapshot(pod: Pod, snap: MachineSnapshot): MachineState {
  const who = `pod "${pod.metadata.namespace}/${pod.metadata.name}"`;
  const hint = 'delete the pod with `podbox delete` and run it again';
  const version = String(snap?.version);
  if (snap?.version !== MACHINE_SNAPSHOT_VERSION)
    throw new PodboxError(
      'InvalidArgument',
      `the saved state of ${who} has version ${version}, this podbox reads version ${MACHINE_SNAPSHOT_VERSION}`,
      hint,
    );
  const id = podIdentity(pod);
  if (snap.pod.namespace !== id.namespace || snap.pod.name !== id.name || snap.pod.uid !== id.uid)
    throw new PodboxError(
      'InvalidArgument',
      `the saved state of ${who} is of pod "${snap.pod.namespace}/${snap.pod.name}" (uid ${snap.pod.uid})`,
      hint,
    );
  const specs = allContainers(pod);
  const kindOf = (i: number): ContainerKind =>
    i >= (pod.spec.initContainers?.length ?? 0) ? 'app' : specs[i]!.restartPolicy === 'Always' ? 'sidecar' : 'init';
  const saved = snap.containers.map((c) => `${c.kind} ${c.name}`).join(', ');
  const wanted = specs.map((c, i) => `${kindOf(i)} ${c.name}`).join(', ');
  if (saved !== wanted)
    throw new PodboxError(
      'InvalidArgument',
      `the saved state of ${who} has containers [${saved}], the pod has [${wanted}]`,
      hint,
    );
  const { version: _version, pod: _pod, containers, ...rest } = structuredClone(snap);
  const st: MachineState = {
    ...rest,
    pulls: rest.pulls ?? {},
    slots: containers.map(({ name: _name, ...c }, i) => ({ ...c, spec: specs[i]! })),
  };
  settleInFlight(st);
  return st;
}

/** Probes, preStop hooks, signals and the teardown the old supervisor was given (see above). */
function settleInFlight(st: MachineState): void {
  for (const p of Object.values(st.pulls)) delete p.startedAt;
  for (const s of st.slots) {
    if (s.phase === 'image' && s.imageWait?.pulling !== undefined) s.imageWait = { syncAt: 0 };
    for (const p of Object.values(s.probes)) p.inFlight = false;
    const stop = s.stop;
    if (!stop || st.sandboxDead) continue;
    if (stop.preStop === 'running') stop.preStop = 'over';
    if (stop.killed) stop.killed = false;
    else stop.signalled = false;
  }
  st.tornDown = false;
}

function podIdentity(pod: Pod): MachineSnapshot['pod'] {
  return { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid ?? '' };
}
