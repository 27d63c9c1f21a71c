import type { ConfigMap, PersistentVolumeClaim, Pod, Secret } from '../api/types.js';
import type { WorkloadController } from './controller.js';

/**
 * A workload object as podbox stores it and `get -o yaml` shows it (less its status): the API
 * server's view after create, with the defaults set, a uid and a creationTimestamp.
 */
export interface WorkloadObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    /** RFC 3339, seconds */
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

/** What a workload's pods may refer to: the ConfigMaps, Secrets and PersistentVolumeClaims given with it. */
export interface WorkloadContext {
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  claims: Map<string, PersistentVolumeClaim>;
}

/** How a controller makes names and uids: random in podbox, fixed in a test. */
export interface Ids {
  /** 5 characters of names.SimpleNameGenerator's alphabet (k8s.io/apiserver pkg/storage/names) */
  suffix(): string;
  uid(): string;
}

export interface ControllerOptions {
  ids: Ids;
  /** what an earlier host of the same object saved (WorkloadController.snapshot), to go on from */
  restored?: unknown;
  /**
   * The pod-failure backoff, first delay and cap in ms (a Job's: 10 s and 6 min); tests shorten it
   * with PODBOX_TESTING_JOB_BACKOFF (workload/host.ts).
   */
  backoff?: { initialMs: number; maxMs: number };
}

/** A workload kind's names: what `run` recognises it by and `get`/`delete` take (workload/kinds.ts). */
export interface KindNames {
  apiVersion: string;
  kind: string;
  /** the names `podbox get`/`delete` take for it, as kubectl's: plural, singular, short, plural.group */
  resources: readonly string[];
}

/**
 * What one kind of workload does: how a document of it is validated, the controller that runs it,
 * and its `kubectl get` table. Loaded when needed (workload/kinds.ts), so commands that only name
 * kinds do not load schemas.
 */
export interface KindBehaviour {
  /** Validated and defaulted as the API server stores it, or throws the PodboxError naming `where`. */
  parse(value: unknown, where: string, context: WorkloadContext): WorkloadObject;
  /**
   * The controller that runs it. None for an object that only describes (a Service): it is stored,
   * listed and deleted, and no host runs for it (workload/apply.ts).
   */
  controller?(object: WorkloadObject, o: ControllerOptions): WorkloadController;
  /** The .status of an object without a controller, written once when it is made. */
  status?(object: WorkloadObject): Record<string, unknown>;
  /**
   * Whether a pod is the object's, when its controller ownerReference does not name the object's
   * own uid (a Deployment's pods name their ReplicaSet). Without it: the ownerReference's uid
   * (observe.ts ownedPods).
   */
  owns?(object: WorkloadObject, pod: Pod['metadata']): boolean;
  /** kubectl get's columns for the kind (k8s.io/kubernetes pkg/printers/internalversion printers.go) */
  columns?: readonly string[];
  row?(object: WorkloadObject, status: Record<string, unknown>, now: number): string[];
  /** what `-o wide` adds after them (printers.go: CONTAINERS IMAGES SELECTOR for most kinds) */
  wide?: { columns: readonly string[]; row(object: WorkloadObject): string[] };
  /** The whole table instead of columns and row, for kinds whose printer is one function (tables.ts). */
  table?(items: readonly Listed[], now: number, wide: boolean): string;
}

/** One object `podbox get` lists, with its status as last written. */
export interface Listed {
  object: WorkloadObject;
  status: Record<string, unknown>;
}

export type WorkloadKind = KindNames & KindBehaviour;
