import { readFileSync } from 'node:fs';
import { publishedText, stackAlive, type PodNetwork } from './network.js';
import { onPodNetwork, podBridgePlan, POD_BRIDGE_INTERFACE } from './pod-bridge.js';

/**
 * A pod's network as its namespace has it now, read from /proc/PID/net of a process in it (the
 * files are the reader's view of that process's network namespace, as `ip netns exec` would show
 * them, with no namespace to join): interfaces with their IPv4 addresses, and the routes.
 */
export interface NetnsView {
  interfaces: { name: string; addresses: string[] }[];
  routes: { destination: string; gateway?: string; interface: string }[];
}

/** What `podbox inspect` shows of a pod's network: the record's facts and the namespace's (netnsView). */
export interface PodNetworkView extends NetnsView {
  mode: PodNetwork['mode'];
  podIP: string;
  gateway?: string;
  dnsForward?: string;
  /** podbox's DNS relay in the pod (dns-relay.ts) */
  dnsRelay?: PodNetwork['dnsRelay'];
  stack?: { name: string; pid: number; alive: boolean };
  published: string[];
  /** its veth on the user's pod network (pod-bridge.ts) */
  bridge?: PodNetwork['bridge'];
}

export function podNetworkView(net: PodNetwork, pausePid: number): PodNetworkView {
  const live = net.mode === 'host' ? { interfaces: [], routes: [] } : netnsView(pausePid);
  const joined = onPodNetwork(net.mode) && live.interfaces.some((i) => i.name === POD_BRIDGE_INTERFACE);
  const bridge = net.bridge ?? (joined ? podBridgePlan(net.podIP, pausePid) : undefined);
  return {
    mode: net.mode,
    podIP: net.podIP,
    ...(net.gateway ? { gateway: net.gateway } : {}),
    ...(net.dnsForward ? { dnsForward: net.dnsForward } : {}),
    ...(net.dnsRelay ? { dnsRelay: net.dnsRelay } : {}),
    ...(net.stackPid ? { stack: { name: net.mode, pid: net.stackPid, alive: stackAlive(net) } } : {}),
    published: net.published.map((p) => publishedText([p])),
    // (a pod that was alone when it started was put on the pod network by a later pod: its state has no
    // veth, the kernel does)
    ...(bridge ? { bridge } : {}),
    ...live,
  };
}

export function netnsView(pid: number): NetnsView {
  const read = (f: string) => {
    try {
      return readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      return '';
    }
  };
  // lo first, then by name: the kernel lists them in the order they were made, which for a pod's
  // stack interface and its pod network veth (made at once) varies.
  const names = interfaceNames(read('dev')).sort((a, b) => (a === 'lo' ? -1 : b === 'lo' ? 1 : a.localeCompare(b)));
  const routes = parseRoutes(read('route'));
  const local = localAddresses(read('fib_trie'));
  const interfaces = names.map((name) => ({
    name,
    addresses: local
      .map((a) => ({ a, on: interfaceOf(a, routes, name === 'lo') }))
      .filter((x) => x.on?.interface === name || (name === 'lo' && x.a.startsWith('127.')))
      .map((x) => `${x.a}/${x.a.startsWith('127.') ? 8 : (x.on?.bits ?? 32)}`),
  }));
  return {
    interfaces,
    routes: routes.map((r) => ({
      destination: r.dest === '0.0.0.0' && r.bits === 0 ? 'default' : `${r.dest}/${r.bits}`,
      ...(r.gateway !== '0.0.0.0' ? { gateway: r.gateway } : {}),
      interface: r.interface,
    })),
  };
}

/** /proc/net/dev: one interface a line after two header lines, "  NAME: counters". */
export function interfaceNames(dev: string): string[] {
  return dev
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean);
}

interface RawRoute {
  interface: string;
  dest: string;
  gateway: string;
  bits: number;
}

/** /proc/net/route: addresses in host byte order as hex (little-endian here), one route a line. */
export function parseRoutes(route: string): RawRoute[] {
  return route
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 7)
    .map((f) => ({ interface: f[0]!, dest: hexIp(f[1]!), gateway: hexIp(f[2]!), bits: maskBits(f[7]!) }));
}

/** /proc/net/fib_trie: the addresses of this namespace are the leaves marked "/32 host LOCAL". */
export function localAddresses(fibTrie: string): string[] {
  const out = new Set<string>();
  const lines = fibTrie.split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (!/^\s*\/32 host LOCAL/.test(lines[i]!)) continue;
    const m = /\|-- (\d+\.\d+\.\d+\.\d+)/.exec(lines[i - 1]!);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

/** The interface an address is on: that of the most specific on-link route covering it (a pod's own /24
 * on its stack's interface, not the pods' /16 on its pod network veth). */
function interfaceOf(addr: string, routes: RawRoute[], loopback: boolean): (RawRoute & { bits: number }) | undefined {
  if (loopback) return undefined;
  return routes
    .filter((r) => r.gateway === '0.0.0.0' && r.bits > 0 && sameNet(addr, r.dest, r.bits))
    .sort((a, b) => b.bits - a.bits)[0];
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

function sameNet(a: string, b: string, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (toInt(a) & mask) >>> 0 === (toInt(b) & mask) >>> 0;
}

function hexIp(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

function maskBits(hex: string): number {
  let n = parseInt(hex, 16) >>> 0;
  let bits = 0;
  while (n) {
    bits += n & 1;
    n >>>= 1;
  }
  return bits;
}
