import type { WorkloadKind } from './object.js';
import { jobKind } from './job-kind.js';

/**
 * The workload kinds podbox runs, by `apiVersion/kind`. A new kind is one line here: its
 * WorkloadKind (object.ts) says how its documents are validated, which controller runs it and how
 * `podbox get` lists it; the rest (run, run -d, get, delete) is workload/host.ts's and cli's.
 */
const KINDS: readonly WorkloadKind[] = [jobKind];

/** The kind of a document, when it is a workload's. */
export function workloadKindOf(apiVersion: unknown, kind: unknown): WorkloadKind | undefined {
  return KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/** The kind a `podbox get`/`delete` resource name names (`jobs`, `job`, `job.batch`...), if any. */
export function workloadKindNamed(resource: string): WorkloadKind | undefined {
  const r = resource.toLowerCase();
  return KINDS.find((k) => k.resources.includes(r));
}

export function workloadKindByKind(kind: string): WorkloadKind | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/**
 * The order objects of one apply are made in: what others refer to first (namespaces, Secrets,
 * ConfigMaps, claims), then Services, then pods and their controllers, as helm installs a chart
 * (helm pkg/releaseutil/kind_sorter.go InstallOrder). `kubectl apply -f DIR` itself goes file by file
 * in name order and document by document; podbox sorts the kinds so that a file may list a
 * workload before the ConfigMap it uses. Kinds of equal rank keep their order in the files.
 */
export const APPLY_ORDER: readonly string[] = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

/** A kind's place in APPLY_ORDER; kinds it does not name go last, as helm puts unknown kinds. */
export function applyRank(kind: string): number {
  const i = APPLY_ORDER.indexOf(kind);
  return i < 0 ? APPLY_ORDER.length : i;
}
