import type { Pod } from '../api/types.js';

/**
 * The one shape every workload controller podbox runs has (Job, Deployment, ReplicaSet, StatefulSet,
 * DaemonSet): Kubernetes' controllers are level-triggered loops that compare the pods they own with
 * what their object asks for and act on the difference (kube-controller-manager, pkg/controller/*).
 * podbox keeps that split: a controller is pure decision (given the pods it owns and the time, what to
 * create or delete, and its object's status), unit-tested with an injected clock; a host process
 * (the foreground `run`, or a detached one) observes the pods, applies the actions and persists the status.
 */

/** What a controller is told about one pod it owns (built by the host from the pod's status). */
export interface ObservedPod {
  /** metadata.name */
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** status.phase */
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** the pod's Ready condition is True */
  ready: boolean;
  /** metadata.creationTimestamp, ms since the epoch */
  created: number;
  /** a deletion was asked for and the pod is still going away */
  terminating: boolean;
  /** the pod's terminated containers (last state of each), for podFailurePolicy onExitCodes */
  terminated: readonly { container: string; init: boolean; exitCode: number; reason?: string }[];
  /** its containers' restarts in place (with restartPolicy OnFailure they count toward a Job's backoffLimit) */
  restarts?: number;
}

/** What a controller asks of its host. */
export type WorkloadAction =
  /** create this pod (metadata.name, labels and ownerReferences already set by the controller) */
  | { create: Pod }
  /** delete this owned pod gracefully; `reason` is the event's text (kubectl describe shows it) */
  | { delete: string; reason: string };

export interface Reconciled {
  actions: WorkloadAction[];
  /** the object's .status as Kubernetes shows it (`podbox get jobs -o yaml`) */
  status: Record<string, unknown>;
  /** set once the workload is finished (a Job Complete or Failed); Deployments never finish */
  finished?: { succeeded: boolean; reason: string; message: string };
  /** the next time (ms since the epoch) reconcile must run even if no pod changes (deadlines, backoff) */
  wakeAt?: number;
  /** events to record on the object: Normal/Warning, reason, message (as kubectl describe lists them) */
  events?: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
}

/**
 * One controller instance per workload object. `reconcile` may keep state in the instance (a Job
 * counts failed pods it has already deleted, as the Job controller's uncountedTerminatedPods does);
 * the host calls it whenever one of its pods changes, at `wakeAt`, and once at start.
 */
export interface WorkloadController {
  readonly kind: string;
  readonly name: string;
  reconcile(pods: readonly ObservedPod[], now: number): Reconciled;
  /**
   * What a later host needs to go on where this one stopped (a detached host restarted): JSON,
   * given back to the kind's controller factory as `restored` (workload/object.ts ControllerOptions).
   */
  snapshot?(): unknown;
}
