import type { KindBehaviour, KindNames, WorkloadKind } from './object.js';

/** A workload kind: its names, and how to load what it does (object.ts KindBehaviour). */
export interface KindEntry extends KindNames {
  load: () => Promise<KindBehaviour>;
}

/**
 * The workload kinds podbox runs, by `apiVersion/kind`. A new kind is one line here: its names,
 * and its KindBehaviour (object.ts: how its documents are validated, which controller runs it, how
 * `podbox get` lists it), loaded only when a command needs it; the rest (run, run -d, get, delete)
 * is workload/apply.ts's, host.ts's and cli/workloads.ts's.
 */
const KINDS: readonly KindEntry[] = [
  {
    apiVersion: 'batch/v1',
    kind: 'Job',
    resources: ['jobs', 'job', 'jobs.batch', 'job.batch'],
    load: async () => (await import('./job-kind.js')).jobKind,
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    resources: ['deployments', 'deployment', 'deploy', 'deployments.apps', 'deployment.apps'],
    load: async () => (await import('./apps-kind.js')).deploymentKind,
  },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    resources: ['replicasets', 'replicaset', 'rs', 'replicasets.apps', 'replicaset.apps'],
    load: async () => (await import('./apps-kind.js')).replicaSetKind,
  },
  {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    resources: ['statefulsets', 'statefulset', 'sts', 'statefulsets.apps', 'statefulset.apps'],
    load: async () => (await import('./apps-kind.js')).statefulSetKind,
  },
  {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    resources: ['daemonsets', 'daemonset', 'ds', 'daemonsets.apps', 'daemonset.apps'],
    load: async () => (await import('./apps-kind.js')).daemonSetKind,
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    resources: ['services', 'service', 'svc'],
    load: async () => (await import('./apps-kind.js')).serviceKind,
  },
];

/** The kind of a document, when it is a workload's. */
export function workloadKindOf(apiVersion: unknown, kind: unknown): KindEntry | undefined {
  return KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/** The kind a `podbox get`/`delete` resource name names (`jobs`, `job`, `job.batch`...), if any. */
export function workloadKindNamed(resource: string): KindEntry | undefined {
  const r = resource.toLowerCase();
  return KINDS.find((k) => k.resources.includes(r));
}

export function workloadKindByKind(kind: string): KindEntry | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/** A kind with what it does loaded. */
export async function loadKind(entry: KindEntry): Promise<WorkloadKind> {
  const { apiVersion, kind, resources } = entry;
  return { apiVersion, kind, resources, ...(await entry.load()) };
}

/** kubectl's name for an object's resource: `job.batch`, `deployment.apps`, `pod`. */
export function resourceOf(apiVersion: string, kind: string): string {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return group ? `${kind.toLowerCase()}.${group}` : kind.toLowerCase();
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
