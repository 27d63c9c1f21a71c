import type { WorkloadController } from './controller.js';
import {
  decodeDaemonSet,
  decodeDeployment,
  decodeReplicaSet,
  decodeStatefulSet,
  type DaemonSet,
  type Deployment,
  type ReplicaSet,
  type StatefulSet,
} from './apps-schema.js';
import { DaemonSetController } from './daemon-set.js';
import { DeploymentController } from './deployment.js';
import { ReplicaSetController, type ControllerOptions } from './replica-set.js';
import { StatefulSetController } from './stateful-set.js';
import { selectorMatches } from './label-selector.js';
import type { OwnerReference } from './owned-pod.js';

/**
 * The four apps/v1 kinds in one place, for the host's kind registry: decode a document, make its
 * controller, and tell which pods are its (the ownerReference each controller puts on its pods).
 */
export const APPS_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'] as const;
export type AppsKind = (typeof APPS_KINDS)[number];
export type AppsObject = Deployment | ReplicaSet | StatefulSet | DaemonSet;

/** A controller that can also be given the edited object (a changed file) without losing its state. */
export type AppsController = WorkloadController & { update(object: AppsObject): void };

export function isAppsKind(apiVersion: unknown, kind: unknown): kind is AppsKind {
  return apiVersion === 'apps/v1' && (APPS_KINDS as readonly unknown[]).includes(kind);
}

/** The document, validated and defaulted as the API server would, or one PodboxError naming the field. */
export function decodeAppsObject(value: unknown, where: string): AppsObject {
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'Deployment') return decodeDeployment(value, where);
  if (kind === 'ReplicaSet') return decodeReplicaSet(value, where);
  if (kind === 'StatefulSet') return decodeStatefulSet(value, where);
  return decodeDaemonSet(value, where);
}

/** The controller of `o`. Its update() takes the same kind (an edited file); a kind change is a new object. */
export function appsController(o: AppsObject, options: ControllerOptions = {}): AppsController {
  if (o.kind === 'Deployment') return new DeploymentController(o, options) as AppsController;
  if (o.kind === 'ReplicaSet') return new ReplicaSetController(o, options) as AppsController;
  if (o.kind === 'StatefulSet') return new StatefulSetController(o) as AppsController;
  return new DaemonSetController(o, options) as AppsController;
}

/**
 * Whether a pod is this object's: its controller ownerReference names it (a Deployment's pods name
 * their ReplicaSet, "NAME-HASH", and carry its pod-template-hash), and its labels match the selector,
 * as the controllers' ClaimPods requires before it manages a pod (controller_ref_manager.go).
 */
export function ownsPod(
  o: AppsObject,
  pod: { labels?: Readonly<Record<string, string>>; ownerReferences?: unknown },
): boolean {
  const refs = Array.isArray(pod.ownerReferences) ? (pod.ownerReferences as Partial<OwnerReference>[]) : [];
  const ref = refs.find((r) => r.controller === true);
  if (!ref || !selectorMatches(o.spec.selector, pod.labels)) return false;
  if (o.kind === 'Deployment') {
    const hash = pod.labels?.['pod-template-hash'];
    return ref.kind === 'ReplicaSet' && hash !== undefined && ref.name === `${o.metadata.name}-${hash}`;
  }
  return ref.kind === o.kind && ref.name === o.metadata.name;
}
