import { humanDuration } from '../kubectl/duration.js';
import { formatTable } from '../kubectl/table.js';
import type { DaemonSet, Deployment, PodTemplate, StatefulSet } from './apps-schema.js';
import { selectorString, type LabelSelector } from './label-selector.js';
import type { Service } from './service.js';

/**
 * `podbox get deployments|replicasets|statefulsets|daemonsets|services`: the columns of kubectl's
 * printers (pkg/printers/internalversion/printers.go printDeployment, printReplicaSet,
 * printStatefulSet, printDaemonSet, printService), from an object, its .status and when it was
 * created. `-o wide` adds CONTAINERS, IMAGES and SELECTOR as kubectl does.
 */

/** One object to list: its status as its controller last reported it, and its creation time (ms). */
export interface Listed<T> {
  object: T;
  status: Record<string, unknown>;
  created: number;
}

const num = (s: Record<string, unknown>, k: string) => (typeof s[k] === 'number' ? (s[k] as number) : 0);
const age = (created: number, now: number) => humanDuration(now - created);

/** CONTAINERS and IMAGES (layoutContainerCells): the template's containers, comma-separated. */
function containerCells(t: PodTemplate): string[] {
  return [t.spec.containers.map((c) => c.name).join(','), t.spec.containers.map((c) => c.image).join(',')];
}

function selectorCell(s: LabelSelector): string {
  return selectorString(s) || '<none>';
}

export function deploymentsTable(items: readonly Listed<Deployment>[], now: number, wide = false): string {
  const rows = [
    ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : [])],
  ];
  for (const { object: d, status: s, created } of items)
    rows.push([
      d.metadata.name,
      `${num(s, 'readyReplicas')}/${d.spec.replicas}`,
      String(num(s, 'updatedReplicas')),
      String(num(s, 'availableReplicas')),
      age(created, now),
      ...(wide ? [...containerCells(d.spec.template), selectorCell(d.spec.selector)] : []),
    ]);
  return formatTable(rows);
}

/** A ReplicaSet to list: a standalone one, or one a Deployment models (DeploymentController.replicaSets). */
export interface ListedReplicaSet {
  name: string;
  /** spec.replicas */
  replicas: number;
  status: Record<string, unknown>;
  created: number;
  template: PodTemplate;
  selector: LabelSelector;
}

export function replicaSetsTable(items: readonly ListedReplicaSet[], now: number, wide = false): string {
  const rows = [['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : [])]];
  for (const rs of items)
    rows.push([
      rs.name,
      String(rs.replicas),
      String(num(rs.status, 'replicas')),
      String(num(rs.status, 'readyReplicas')),
      age(rs.created, now),
      ...(wide ? [...containerCells(rs.template), selectorCell(rs.selector)] : []),
    ]);
  return formatTable(rows);
}

export function statefulSetsTable(items: readonly Listed<StatefulSet>[], now: number, wide = false): string {
  const rows = [['NAME', 'READY', 'AGE', ...(wide ? ['CONTAINERS', 'IMAGES'] : [])]];
  for (const { object: s, status, created } of items)
    rows.push([
      s.metadata.name,
      `${num(status, 'readyReplicas')}/${s.spec.replicas}`,
      age(created, now),
      ...(wide ? containerCells(s.spec.template) : []),
    ]);
  return formatTable(rows);
}

/** labels.FormatLabels of the template's nodeSelector: "k=v,k2=v2" sorted, or <none>. */
function nodeSelectorCell(ds: DaemonSet): string {
  const sel = ds.spec.template.spec.nodeSelector;
  if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return '<none>';
  return Object.entries(sel as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
}

export function daemonSetsTable(items: readonly Listed<DaemonSet>[], now: number, wide = false): string {
  const rows = [
    [
      'NAME',
      'DESIRED',
      'CURRENT',
      'READY',
      'UP-TO-DATE',
      'AVAILABLE',
      'NODE SELECTOR',
      'AGE',
      ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
    ],
  ];
  for (const { object: ds, status: s, created } of items)
    rows.push([
      ds.metadata.name,
      String(num(s, 'desiredNumberScheduled')),
      String(num(s, 'currentNumberScheduled')),
      String(num(s, 'numberReady')),
      String(num(s, 'updatedNumberScheduled')),
      String(num(s, 'numberAvailable')),
      nodeSelectorCell(ds),
      age(created, now),
      ...(wide ? [...containerCells(ds.spec.template), selectorCell(ds.spec.selector)] : []),
    ]);
  return formatTable(rows);
}

/**
 * A Service's .status as podbox reports it: a LoadBalancer's ingress is this host, named
 * "localhost" as Docker Desktop's built-in load balancer reports it; other types have none.
 */
export function serviceStatus(svc: Service): Record<string, unknown> {
  return svc.spec.type === 'LoadBalancer'
    ? { loadBalancer: { ingress: [{ hostname: 'localhost' }] } }
    : { loadBalancer: {} };
}

/** getServiceExternalIP: a LoadBalancer's ingress (or <pending>), else <none> (podbox takes no externalIPs). */
function externalIP(svc: Service, status: Record<string, unknown>): string {
  if (svc.spec.type !== 'LoadBalancer') return '<none>';
  const ingress = (status.loadBalancer as { ingress?: { ip?: string; hostname?: string }[] } | undefined)?.ingress;
  const shown = (ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean);
  return shown.length ? shown.join(',') : '<pending>';
}

/** makePortString: "80/TCP", or "80:30080/TCP" with a node port, comma-separated. */
export function portsCell(svc: Service): string {
  const ports = svc.spec.ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}` : `${p.port}`) + `/${p.protocol}`);
  return ports.join(',') || '<none>';
}

export function servicesTable(items: readonly Listed<Service>[], now: number, wide = false): string {
  const rows = [['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', ...(wide ? ['SELECTOR'] : [])]];
  for (const { object: svc, status, created } of items) {
    const selector = Object.entries(svc.spec.selector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
    rows.push([
      svc.metadata.name,
      svc.spec.type,
      // No cluster IP is allocated (nothing would route it): the given one, "None" for a headless Service, or <none>.
      svc.spec.clusterIP || '<none>',
      externalIP(svc, status),
      portsCell(svc),
      age(created, now),
      ...(wide ? [selector || '<none>'] : []),
    ]);
  }
  return formatTable(rows);
}
