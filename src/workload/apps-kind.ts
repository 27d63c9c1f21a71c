import { randomUUID } from 'node:crypto';
import { iso } from '../api/status.js';
import { PodboxError } from '../errors.js';
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from './apps-schema.js';
import { appsController, decodeAppsObject, ownsPod, type AppsObject } from './apps-kinds.js';
import type { KindBehaviour, Listed, WorkloadObject } from './object.js';
import { checkTemplate } from './owned-pod.js';
import { storedServices } from './publish.js';
import { allocateNodePorts, decodeService, type Service } from './service.js';
import {
  daemonSetsTable,
  deploymentsTable,
  replicaSetsTable,
  serviceStatus,
  servicesTable,
  statefulSetsTable,
} from './tables.js';

/**
 * The apps/v1 kinds (Deployment, ReplicaSet, StatefulSet, DaemonSet) and v1 Service as the
 * workload framework takes them (object.ts KindBehaviour): the pure modules (apps-kinds.ts,
 * service.ts, tables.ts) adapted, nothing decided here.
 */

const asApps = (o: WorkloadObject) => o as unknown as AppsObject;
const created = (o: WorkloadObject) => Date.parse(o.metadata.creationTimestamp);

/** One apps/v1 kind; `table` is its kubectl printer (tables.ts). */
function appsKind(table: (items: readonly Listed[], now: number, wide: boolean) => string): KindBehaviour {
  return {
    parse(value, where, context) {
      const o = decodeAppsObject(value, where);
      checkTemplate(o.spec.template, context, where, `${o.kind.toLowerCase()} "${o.metadata.name}"`);
      // What the API server adds on create: the uid (decodeAppsObject's) and the creationTimestamp.
      return { ...o, metadata: { ...o.metadata, creationTimestamp: iso(Date.now()) } } as unknown as WorkloadObject;
    },
    controller: (object) => appsController(asApps(object)),
    // A Deployment's pods name its ReplicaSet "NAME-HASH" as their controller (apps-kinds.ts ownsPod).
    owns: (object, pod) => ownsPod(asApps(object), pod),
    table,
  };
}

function listed<T>(items: readonly Listed[]): { object: T; status: Record<string, unknown>; created: number }[] {
  return items.map((i) => ({ object: i.object as unknown as T, status: i.status, created: created(i.object) }));
}

export const deploymentKind = appsKind((items, now, wide) => deploymentsTable(listed<Deployment>(items), now, wide));
export const statefulSetKind = appsKind((items, now, wide) => statefulSetsTable(listed<StatefulSet>(items), now, wide));
export const daemonSetKind = appsKind((items, now, wide) => daemonSetsTable(listed<DaemonSet>(items), now, wide));
/**
 * Standalone ReplicaSets only: a Deployment's ReplicaSets live inside its controller (deployment.ts),
 * not as objects of their own, so `get replicasets` does not list them.
 */
export const replicaSetKind = appsKind((items, now, wide) =>
  replicaSetsTable(
    listed<ReplicaSet>(items).map(({ object, status, created }) => ({
      name: object.metadata.name,
      replicas: object.spec.replicas,
      status,
      created,
      template: object.spec.template,
      selector: object.spec.selector,
    })),
    now,
    wide,
  ),
);

/**
 * v1 Service: stored and listed, no controller. Its NodePort and LoadBalancer ports are published
 * through the pods it selects when they are made (publish.ts); a ClusterIP Service is accepted and
 * not routed (service.ts says why).
 */
export const serviceKind: KindBehaviour = {
  parse(value, where) {
    const svc = decodeService(value, where);
    // The node port allocator's view (portallocator): the ports of the other Services kept.
    const others = storedServices().filter((s) => s.metadata.name !== svc.metadata.name);
    const taken = new Set(others.flatMap((s) => s.spec.ports.flatMap((p) => (p.nodePort ? [p.nodePort] : []))));
    for (const [i, p] of svc.spec.ports.entries())
      if (p.nodePort !== undefined && taken.has(p.nodePort))
        throw new PodboxError(
          'InvalidManifest',
          `${where}: service "${svc.metadata.name}" is invalid: spec.ports[${i}].nodePort: ` +
            `Invalid value: ${p.nodePort}: provided port is already allocated`,
          'give another nodePort, leave it out to have one chosen, or delete the Service that has it',
        );
    const allocated = allocateNodePorts(svc, taken);
    return {
      ...allocated,
      metadata: {
        ...allocated.metadata,
        uid: allocated.metadata.uid ?? randomUUID(),
        creationTimestamp: iso(Date.now()),
      },
    } as unknown as WorkloadObject;
  },
  status: (object) => serviceStatus(object as unknown as Service),
  table: (items, now, wide) => servicesTable(listed<Service>(items), now, wide),
};
