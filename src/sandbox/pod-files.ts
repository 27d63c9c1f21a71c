import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../api/types.js';

/**
 * The files every container of a pod shares: /etc/hosts, /etc/hostname, /etc/resolv.conf.
 */

/** The pod's hostname: spec.hostname or metadata.name (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-hostname-and-subdomain-field). */
export function podHostname(pod: Pod): string {
  return pod.spec.hostname || pod.metadata.name;
}

/** /etc/hosts exactly as the kubelet writes it (pkg/kubelet/kubelet_pods.go managedHostsFileContent). */
export function hostsFileContent(pod: Pod, podIP: string): string {
  const hostname = podHostname(pod);
  let out = '# Kubernetes-managed hosts file.\n';
  out += '127.0.0.1\tlocalhost\n';
  out += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  out += 'fe00::0\tip6-localnet\n';
  out += 'fe00::0\tip6-mcastprefix\n';
  out += 'fe00::1\tip6-allnodes\n';
  out += 'fe00::2\tip6-allrouters\n';
  if (pod.spec.subdomain) {
    const domain = `${pod.spec.subdomain}.${pod.metadata.namespace}.svc.cluster.local`;
    out += `${podIP}\t${hostname}.${domain}\t${hostname}\n`;
  } else {
    out += `${podIP}\t${hostname}\n`;
  }
  const aliases = pod.spec.hostAliases ?? [];
  if (aliases.length) {
    out += '\n# Entries added by HostAliases.\n';
    for (const a of aliases) out += `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`;
  }
  return out;
}

export interface PodFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
  shm: string;
}

/** `resolvConf`: the content of /etc/resolv.conf (resolv-conf.ts podDns). */
export function writePodFiles(podDir: string, pod: Pod, podIP: string, resolvConf: string): PodFiles {
  const etc = join(podDir, 'etc');
  mkdirSync(etc, { recursive: true });
  const files: PodFiles = {
    hosts: join(etc, 'hosts'),
    hostname: join(etc, 'hostname'),
    resolvConf: join(etc, 'resolv.conf'),
    shm: join(podDir, 'shm'),
  };
  writeFileSync(files.hosts, hostsFileContent(pod, podIP), { mode: 0o644 });
  writeFileSync(files.hostname, `${podHostname(pod)}\n`, { mode: 0o644 });
  writeFileSync(files.resolvConf, resolvConf, { mode: 0o644 });
  mkdirSync(files.shm, { recursive: true });
  return files;
}
