import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Pod } from '../api/types.js';
import type { PodNetwork } from './network.js';

/** validation.go MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars (the expanded limits, GA since 1.28). */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;

/**
 * A pod's /etc/resolv.conf, decided as the kubelet decides it (pkg/kubelet/network/dns/dns.go
 * Configurer.GetPodDNS) and written as containerd writes it (internal/cri/server
 * sandbox_run_linux.go parseDNSOptions: `search`, then one `nameserver` line each, then `options`).
 *
 *  1. the base is the node's resolv.conf (getHostDNSConfig); `None` starts from nothing;
 *  2. ClusterFirst / ClusterFirstWithHostNet want the cluster's DNS service: one machine has none,
 *     so, as a kubelet with no clusterDNS, the pod falls back to Default with a MissingClusterDNS
 *     warning event (ClusterFirst on a hostNetwork pod is Default outright: getPodDNSType);
 *  3. host resolvers on loopback (systemd-resolved's 127.0.0.53, dnsmasq's 127.0.0.1) are the
 *     node's own loopback, which a pod with its own network namespace cannot reach: podbox replaces
 *     them by the address of the pod's DNS relay (dns-relay.ts), which forwards to them from the
 *     host. With no relay (`--network=none`) they are kept: the pod reaches nothing anyway, a query
 *     fails at once (nothing listens on the pod's loopback), and a file with no nameserver would
 *     make the resolver use 127.0.0.1 all the same. A hostNetwork pod shares the node's loopback
 *     and keeps them. Nameservers given in dnsConfig are the user's: never replaced;
 *  4. spec.dnsConfig is appended (appendDNSConfig): servers and searches without duplicates, options
 *     merged by name, dnsConfig's value winning;
 *  5. the limits are applied with the kubelet's DNSConfigForming warnings (formDNSConfigFitsLimits).
 */

/** The part of the pod's network that DNS depends on: its mode, and its DNS relay. */
export type DnsNetwork = Pick<PodNetwork, 'mode' | 'dnsRelay'>;

/** The CRI's DNSConfig (runtimeapi.DNSConfig): options as resolv.conf writes them, `name` or `name:value`. */
export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** A warning event the kubelet records on the pod while forming its DNS configuration. */
export interface DnsEvent {
  reason: 'MissingClusterDNS' | 'DNSConfigForming';
  message: string;
}

export interface PodDns {
  /** the file's content */
  content: string;
  events: DnsEvent[];
}

/** Where the node's resolver configuration is read: the kubelet's default --resolv-conf. */
export const HOST_RESOLV_CONF = '/etc/resolv.conf';

/**
 * The node's resolv.conf path. Testing knob: PODBOX_TESTING_RESOLV_CONF names another file, so
 * tests can give a node configuration they control. Never set it for real use.
 */
export function hostResolvConfPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PODBOX_TESTING_RESOLV_CONF || HOST_RESOLV_CONF;
}

/** The node's resolv.conf, or undefined when it has none (a machine with no resolver configured). */
export function readHostResolvConf(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return readFileSync(hostResolvConfPath(env), 'utf8');
  } catch {
    return undefined;
  }
}

/** utilvalidation.DNS1123SubdomainMaxLength: longer search paths make some resolvers abort. */
const MAX_SEARCH_PATH_LENGTH = 253;

/**
 * dns.go parseResolvConf: `nameserver` lines accumulate; the last `search` and the last `options`
 * line win; comments (`#`) and other lines are skipped; a search path's trailing dot is dropped.
 */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { servers: [], searches: [], options: [] };
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/\s+/).filter(Boolean);
    if (fields[0] === 'nameserver' && fields.length >= 2) out.servers.push(fields[1]!);
    if (fields[0] === 'search') out.searches = fields.slice(1).map((s) => s.replace(/\.$/, ''));
    if (fields[0] === 'options') out.options = fields.slice(1);
  }
  return out;
}

/** containerd's parseDNSOptions; '' when there is nothing to write (the runtime then copies the node's file). */
export function resolvConfText(c: DnsConfig): string {
  let out = '';
  if (c.searches.length) out += `search ${c.searches.join(' ')}\n`;
  for (const s of c.servers) out += `nameserver ${s}\n`;
  if (c.options.length) out += `options ${c.options.join(' ')}\n`;
  return out;
}

/**
 * The pod's resolv.conf from the node's (`hostText`: its content, undefined if the node has none)
 * and the pod's network. Pure: the events are returned for the caller to record.
 */
export function podDns(pod: Pod, hostText: string | undefined, network: DnsNetwork): PodDns {
  const events: DnsEvent[] = [];
  const hostNetwork = network.mode === 'host';
  const policy = pod.spec.dnsPolicy;
  // Step 1. A node with no resolv.conf has no resolvers: podbox then starts from nothing, where the
  // kubelet would refuse to create the pod (getHostDNSConfig's open error).
  const host = parseResolvConf(hostText ?? '');
  let config: DnsConfig;
  if (policy === 'None') {
    config = { servers: [], searches: [], options: [] };
  } else {
    // Step 2: getPodDNSType, then GetPodDNS's podDNSCluster case with c.clusterDNS empty.
    if (policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !hostNetwork)) {
      const { name, namespace, uid } = pod.metadata;
      events.push({
        reason: 'MissingClusterDNS',
        message:
          `pod: "${name}_${namespace}(${uid ?? ''})". kubelet does not have ClusterDNS IP configured and cannot ` +
          'create Pod using "ClusterFirst" policy. Falling back to "Default" policy.',
      });
    }
    // Step 3.
    const relay = !hostNetwork && network.dnsRelay?.address;
    const servers = relay ? host.servers.map((s) => (isLoopback(s) ? relay : s)) : host.servers;
    config = { servers: omitDuplicates(servers), searches: host.searches, options: host.options };
  }
  // Step 4.
  const extra = pod.spec.dnsConfig;
  if (extra) {
    config = {
      servers: omitDuplicates([...config.servers, ...(extra.nameservers ?? [])]),
      searches: omitDuplicates([...config.searches, ...(extra.searches ?? [])]),
      options: mergeDnsOptions(config.options, extra.options ?? []),
    };
  }
  // Step 5.
  const servers = nameserversFitLimits(config.servers, events);
  const searches = searchesFitLimits(config.searches, events);
  const content = resolvConfText({ ...config, servers, searches }) || (hostText ?? '');
  return { content, events };
}

/** 127.0.0.0/8 and ::1: the node's own loopback. */
export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return isIP(ip) === 6 && /^(0{0,4}:){2,7}0{0,3}1$/.test(ip);
}

function omitDuplicates(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * dns.go mergeDNSOptions: by name, dnsConfig's entry replacing the node's. The kubelet collects
 * them in a Go map, so its order varies; podbox keeps the node's order and appends new names.
 */
function mergeDnsOptions(existing: string[], extra: { name?: string; value?: string }[]): string[] {
  const options = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i === -1) options.set(op, '');
    else options.set(op.slice(0, i), op.slice(i + 1));
  }
  for (const op of extra) options.set(op.name ?? '', op.value ?? '');
  return [...options].map(([name, value]) => (value ? `${name}:${value}` : name));
}

/** dns.go formDNSNameserversFitsLimits. */
function nameserversFitLimits(servers: string[], events: DnsEvent[]): string[] {
  if (servers.length <= MAX_DNS_NAMESERVERS) return servers;
  const kept = servers.slice(0, MAX_DNS_NAMESERVERS);
  events.push({
    reason: 'DNSConfigForming',
    message:
      'Nameserver limits were exceeded, some nameservers have been omitted, ' +
      `the applied nameserver line is: ${kept.join(' ')}`,
  });
  return kept;
}

/** dns.go formDNSSearchFitsLimits: at most 32 paths, none over 253 characters, 2048 characters in all. */
function searchesFitLimits(searches: string[], events: DnsEvent[]): string[] {
  let exceeded = searches.length > MAX_DNS_SEARCH_PATHS;
  let kept = searches.slice(0, MAX_DNS_SEARCH_PATHS);
  const short = kept.filter((s) => s.length <= MAX_SEARCH_PATH_LENGTH);
  if (short.length !== kept.length) exceeded = true;
  kept = short;
  // The last paths go until the line (paths joined by spaces) fits.
  while (kept.join(' ').length > MAX_DNS_SEARCH_LIST_CHARS) {
    kept = kept.slice(0, -1);
    exceeded = true;
  }
  if (exceeded) {
    events.push({
      reason: 'DNSConfigForming',
      message:
        'Search Line limits were exceeded, some search paths have been omitted, ' +
        `the applied search line is: ${kept.join(' ')}`,
    });
  }
  return kept;
}
