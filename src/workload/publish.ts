import type { Pod } from '../api/types.js';
import { podsDir } from '../pod/dir.js';
import { claimFiles, networkModeOf, unprivilegedPortStart } from '../sandbox/network.js';
import { WorkloadDir } from './dir.js';
import { publishServices, type Service } from './service.js';

/**
 * The Services of this user that podbox keeps (`podbox run` of a file with a v1/Service), as the
 * host reads them before it makes a pod: a Service made after a pod reaches only the pods made
 * after it, as kube-proxy's rules reach a pod only once its endpoints are published.
 */
export function storedServices(): Service[] {
  const out: Service[] = [];
  for (const dir of WorkloadDir.list('Service')) {
    try {
      out.push(dir.record().object as unknown as Service);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** The host ports pods hold now ("TCP/30080"), from their claim files (sandbox/network.ts planNetwork). */
function claimedPorts(): Set<string> {
  const out = new Set<string>();
  for (const f of claimFiles(podsDir())) {
    const m = /^\.port-(tcp|udp|sctp)-(\d+)$/.exec(f);
    if (m) out.add(`${m[1]!.toUpperCase()}/${m[2]}`);
  }
  return out;
}

/**
 * `pod` with the NodePort and LoadBalancer ports of the Services that select it as hostPorts
 * (service.ts publishServices), before it is created. `pending` holds the ports given to pods still
 * being created (their claim files may not exist yet): they are taken too, and the ports given here
 * are added to it; the caller removes them once the pod exists. Returns the pod and why each port
 * it was not given was skipped (`service "web": ...`).
 */
export function withServicePorts(
  pod: Pod,
  settings: Record<string, string>,
  pending: Set<string>,
  services: readonly Service[] = storedServices(),
): { pod: Pod; skipped: string[]; ports: string[] } {
  if (services.length === 0) return { pod, skipped: [], ports: [] };
  const taken = new Set([...claimedPorts(), ...pending]);
  const network = networkModeOf(pod, settings.PODBOX_NETWORK ?? process.env.PODBOX_NETWORK);
  const r = publishServices(services, pod, { taken, lowestPort: unprivilegedPortStart(), network });
  const ports = r.published.map((p) => `${p.protocol}/${p.hostPort}`);
  for (const p of ports) pending.add(p);
  return { pod: r.pod, skipped: r.skipped.map((s) => `service "${s.service}": ${s.why}`), ports };
}
