import { z } from 'zod';
import { check } from '../api/manifest.js';
import * as schema from '../api/schema.js';
import { API_MESSAGE, UNSUPPORTED } from '../api/schema.js';
import type { Pod } from '../api/types.js';
import type { NetworkMode } from '../sandbox/network.js';
import { PodboxError } from '../errors.js';
import { selectorMatches } from './label-selector.js';
import { cryptoRandom, type RandomIndex } from './naming.js';

/**
 * A v1 Service, and what it means on one node without kube-proxy or cluster DNS: its ports are
 * published on the host, through the pods' own hostPort publishing (sandbox/network.ts
 * publishedPorts), for a pod its selector matches.
 *
 *   type          published on the host                     as kubectl shows it
 *   NodePort      nodePort (given, or one of 30000-32767)   10.x  <none>     80:30080/TCP
 *   LoadBalancer  port and nodePort (the host is the        10.x  localhost  80:30080/TCP
 *                 load balancer, as k3s ServiceLB and Docker Desktop make it)
 *   ClusterIP     nothing: accepted, not routed             10.x  <none>     80/TCP
 *   ExternalName  refused: nothing could answer its DNS name
 *
 * ClusterIP is accepted rather than refused because it is what most files that come with a
 * Deployment hold (and what a StatefulSet's headless governing Service is): refusing it would refuse
 * the file for a Service that, on one node, could only ever have reached the same pods the user can
 * reach with `podbox port-forward`. `describe` says it is not routed.
 * One host port is forwarded into one pod: a Service over three replicas publishes into the first
 * pod that claims the port (no load balancing); once that pod is gone the next pod made claims it.
 */

/** The API server's default NodePort range (--service-node-port-range). */
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

const servicePort = z.strictObject({
  name: schema.dnsLabel.optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
  appProtocol: z.string().optional(),
  port: schema.port,
  targetPort: schema.portRef.optional(),
  nodePort: schema.port.optional(),
});

const apiIssue = (ctx: z.RefinementCtx, path: (string | number)[], message: string, hint: string) =>
  ctx.addIssue({ code: 'custom', path, message, params: { [API_MESSAGE]: true, hint } });

export const service = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: schema.metadata,
  spec: z
    .strictObject({
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
      selector: schema.stringMap.optional(),
      ports: z.array(servicePort).optional(),
      clusterIP: z.string().optional(),
      clusterIPs: z.array(z.string()).optional(),
      sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
      externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
      internalTrafficPolicy: z.enum(['Cluster', 'Local']).default('Cluster'),
      publishNotReadyAddresses: z.boolean().optional(),
      externalName: z.string().optional(),
      externalIPs: schema.unsupported("externalIPs are not supported: podbox publishes on all of the host's addresses"),
      // Address families, affinity timeouts and load-balancer details: one host, nothing to choose.
      ipFamilies: schema.ignored(),
      ipFamilyPolicy: schema.ignored(),
      sessionAffinityConfig: schema.ignored(),
      loadBalancerIP: schema.ignored(),
      loadBalancerSourceRanges: schema.ignored(),
      loadBalancerClass: schema.ignored(),
      allocateLoadBalancerNodePorts: schema.ignored(),
      healthCheckNodePort: schema.ignored(),
      trafficDistribution: schema.ignored(),
    })
    .superRefine((s, ctx) => {
      // pkg/apis/core/validation/validation.go ValidateService, the rules one Service can check alone.
      if (s.type === 'ExternalName') {
        ctx.addIssue({
          code: 'custom',
          path: ['type'],
          message:
            'type ExternalName is not supported: podbox has no cluster DNS to answer for it; ' +
            'give the pods the name directly (hostAliases or env)',
          params: { [UNSUPPORTED]: true },
        });
        return;
      }
      const headless = s.clusterIP === 'None';
      if (!s.ports?.length && !headless) apiIssue(ctx, ['ports'], 'Required value', 'give at least one port');
      if (headless && s.type !== 'ClusterIP')
        apiIssue(
          ctx,
          ['clusterIP'],
          `Invalid value: "None": may not be set to 'None' for ${s.type} services`,
          'remove clusterIP: None, or use type ClusterIP',
        );
      const names = new Set<string>();
      for (const [i, p] of (s.ports ?? []).entries()) {
        if ((s.ports?.length ?? 0) > 1 && !p.name)
          apiIssue(ctx, ['ports', i, 'name'], 'Required value', 'give each port a name when there are several');
        if (p.name && names.has(p.name))
          apiIssue(ctx, ['ports', i, 'name'], `Duplicate value: "${p.name}"`, 'give each port its own name');
        if (p.name) names.add(p.name);
        if (p.nodePort !== undefined && s.type === 'ClusterIP')
          apiIssue(
            ctx,
            ['ports', i, 'nodePort'],
            "Forbidden: may not be used when `type` is 'ClusterIP'",
            'remove nodePort, or use type NodePort',
          );
        else if (p.nodePort !== undefined && (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX))
          apiIssue(
            ctx,
            ['ports', i, 'nodePort'],
            `Invalid value: ${p.nodePort}: provided port is not in the valid range. ` +
              `The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
            `give a nodePort from ${NODE_PORT_MIN} to ${NODE_PORT_MAX}, or leave it out to have one chosen`,
          );
      }
    })
    // SetDefaults_Service: targetPort is the port; externalTrafficPolicy Cluster where it applies.
    .transform((s) => ({
      ...s,
      ports: (s.ports ?? []).map((p) => ({ ...p, targetPort: p.targetPort ?? p.port })),
      ...(s.type === 'NodePort' || s.type === 'LoadBalancer'
        ? { externalTrafficPolicy: s.externalTrafficPolicy ?? ('Cluster' as const) }
        : {}),
    })),
  status: schema.ignored(),
});

export type Service = z.output<typeof service> & { metadata: { name: string } };
export type ServicePort = Service['spec']['ports'][number];

/** A v1 Service from a file, validated as the API server would, or one PodboxError naming the field. */
export function decodeService(value: unknown, where: string): Service {
  const what = `service "${String((value as { metadata?: { name?: unknown } } | null)?.metadata?.name ?? '')}"`;
  const s = check(service, value, where, what);
  if (!s.metadata.name)
    throw new PodboxError(
      'InvalidManifest',
      `${where}: ${what} is invalid: metadata.name: Required value: name is required`,
      'set metadata.name',
    );
  return { ...s, metadata: { ...s.metadata, name: s.metadata.name } };
}

/**
 * The API server's node port allocator (pkg/registry/core/service/portallocator): each NodePort or
 * LoadBalancer port without a nodePort gets a free one of 30000-32767, at random. `taken` holds the
 * node ports other Services already have; the host keeps what this returns as the Service.
 */
export function allocateNodePorts(
  svc: Service,
  taken: ReadonlySet<number>,
  random: RandomIndex = cryptoRandom,
): Service {
  if (svc.spec.type !== 'NodePort' && svc.spec.type !== 'LoadBalancer') return svc;
  const used = new Set([...taken, ...svc.spec.ports.flatMap((p) => (p.nodePort ? [p.nodePort] : []))]);
  const ports = svc.spec.ports.map((p) => {
    if (p.nodePort) return p;
    const free = NODE_PORT_MAX - NODE_PORT_MIN + 1 - [...used].filter((n) => n >= NODE_PORT_MIN).length;
    if (free <= 0)
      throw new PodboxError(
        'InvalidManifest',
        `service "${svc.metadata.name}": no node port is free in ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
        'delete Services that are no longer needed',
      );
    let n: number;
    do n = NODE_PORT_MIN + random(NODE_PORT_MAX - NODE_PORT_MIN + 1);
    while (used.has(n));
    used.add(n);
    return { ...p, nodePort: n };
  });
  return { ...svc, spec: { ...svc.spec, ports } };
}

/** The host ports a Service asks for, in spec order: nodePort, and for a LoadBalancer its port first. */
export function serviceHostPorts(svc: Service): { port: ServicePort; hostPort: number }[] {
  const out: { port: ServicePort; hostPort: number }[] = [];
  for (const p of svc.spec.ports) {
    if (svc.spec.type === 'LoadBalancer') out.push({ port: p, hostPort: p.port });
    if ((svc.spec.type === 'NodePort' || svc.spec.type === 'LoadBalancer') && p.nodePort)
      out.push({ port: p, hostPort: p.nodePort });
  }
  return out;
}

export interface ServicePublication {
  service: string;
  hostPort: number;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface ServiceSkip {
  service: string;
  hostPort: number;
  /** why it is not published into this pod: the event's message on the Service */
  why: string;
}

/**
 * The Services' ports published into `pod`: for each Service whose selector matches the pod's
 * labels, each host port it asks for becomes a hostPort on the container port its targetPort names
 * (a number, or a container port's name, as the endpoints controller resolves it:
 * podutil.FindPort). The pod is returned with those hostPorts set; the host then creates it as any
 * pod, and planNetwork publishes them. A port is skipped, with the reason, when `taken` has it (a
 * "TCP/30080" another pod publishes), when it is below `lowestPort` (a rootless user cannot bind
 * it), when a named targetPort names no container port, or for SCTP (pasta and slirp4netns forward
 * TCP and UDP only). A hostNetwork pod's app already listens on the host: nothing is forwarded; a
 * pod on --network=none cannot publish (planNetwork refuses it): every port is skipped, saying so.
 */
export function publishServices(
  services: readonly Service[],
  pod: Pod,
  opts: { taken: ReadonlySet<string>; lowestPort: number; network?: NetworkMode },
): { pod: Pod; published: ServicePublication[]; skipped: ServiceSkip[] } {
  const published: ServicePublication[] = [];
  const skipped: ServiceSkip[] = [];
  if (pod.spec.hostNetwork) return { pod, published, skipped };
  const matching = services.filter(
    (svc) => svc.spec.selector && selectorMatches({ matchLabels: svc.spec.selector }, pod.metadata.labels),
  );
  if (opts.network === 'none') {
    // planNetwork refuses a hostPort under --network=none: the pod would not start, so nothing is asked.
    for (const svc of matching)
      for (const { hostPort } of serviceHostPorts(svc))
        skipped.push({
          service: svc.metadata.name,
          hostPort,
          why: `host port ${hostPort} cannot be published with --network=none (use \`podbox port-forward\`)`,
        });
    return { pod, published, skipped };
  }
  const containers = pod.spec.containers.map((c) => ({ ...c, ports: [...(c.ports ?? [])] }));
  const claimed = new Set(opts.taken);
  for (const svc of matching) {
    const name = svc.metadata.name;
    for (const { port, hostPort } of serviceHostPorts(svc)) {
      const key = `${port.protocol}/${hostPort}`;
      const skip = (why: string) => skipped.push({ service: name, hostPort, why });
      if (port.protocol === 'SCTP') {
        skip(`port ${hostPort}/SCTP: podbox publishes TCP and UDP only`);
        continue;
      }
      if (claimed.has(key)) {
        skip(`host port ${hostPort}/${port.protocol} is already published`);
        continue;
      }
      if (hostPort < opts.lowestPort) {
        skip(
          `host port ${hostPort}/${port.protocol} is below ${opts.lowestPort}, the lowest port a user may bind ` +
            `(use a NodePort, or lower net.ipv4.ip_unprivileged_port_start)`,
        );
        continue;
      }
      const target = findPort(containers, port.targetPort, port.protocol);
      if (!target) {
        skip(`targetPort "${String(port.targetPort)}" names no container port of pod "${pod.metadata.name}"`);
        continue;
      }
      const c = containers[target.container]!;
      const existing = target.index !== undefined ? c.ports[target.index] : undefined;
      if (existing && existing.hostPort === undefined) {
        c.ports[target.index!] = { ...existing, hostPort };
      } else {
        c.ports.push({ containerPort: target.containerPort, protocol: port.protocol, hostPort });
      }
      claimed.add(key);
      published.push({ service: name, hostPort, containerPort: target.containerPort, protocol: port.protocol });
    }
  }
  if (!published.length) return { pod, published, skipped };
  const withPorts = containers.map((c, i) =>
    c.ports.length || pod.spec.containers[i]!.ports ? c : { ...c, ports: undefined },
  );
  return { pod: { ...pod, spec: { ...pod.spec, containers: withPorts } }, published, skipped };
}

/**
 * podutil.FindPort: a named targetPort is the container port of that name (and protocol); a number
 * is itself, on the container that declares it, else on the first container (a Service may target
 * a port no container declares, and pasta forwards into the pod's network namespace, whichever
 * container listens).
 */
function findPort(
  containers: { ports: NonNullable<Pod['spec']['containers'][number]['ports']> }[],
  target: number | string,
  protocol: string,
): { container: number; index?: number; containerPort: number } | undefined {
  for (const [ci, c] of containers.entries()) {
    for (const [pi, p] of c.ports.entries()) {
      if (p.protocol !== protocol) continue;
      if (typeof target === 'string' ? p.name === target : p.containerPort === target)
        return { container: ci, index: pi, containerPort: p.containerPort };
    }
  }
  return typeof target === 'number' ? { container: 0, containerPort: target } : undefined;
}
