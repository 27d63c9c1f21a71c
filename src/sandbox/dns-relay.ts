import dgram from 'node:dgram';
import net from 'node:net';
import { closeSync } from 'node:fs';
import type { Pod } from '../api/types.js';
import { PodboxError } from '../errors.js';
import { native } from './native.js';
import { isLoopback, parseResolvConf } from './resolv-conf.js';
import type { NetworkMode } from './network.js';

/**
 * podbox's DNS relay, for a pod whose node resolvers are on the node's loopback (systemd-resolved's
 * 127.0.0.53, dnsmasq's 127.0.0.1): the pod's own loopback is another, and Debian's pasta of 2023-03
 * does not relay DNS to a loopback host resolver (slirp4netns reads the node's file, not podbox's
 * --resolv-conf). So the pod's supervisor holds, per pod, a UDP and a TCP socket made *inside* the
 * pod's network namespace (native/namespaces.c pb_bound_socket_in_namespace, the probes' way in,
 * probe/dial.ts), and forwards each query it receives there to the node's loopback resolvers from
 * the host's network namespace, where they are reachable, and each answer back:
 *
 *   resolver in the pod ──udp/tcp──▶ 127.0.0.153:53 (pod's lo; the socket is the supervisor's)
 *                                        │ supervisor, host netns: a fresh UDP socket per query
 *                                        ▼ (random source port), or a TCP connection per connection
 *                                      127.0.0.53:53 (the node's resolver), then the next on timeout
 *
 * The pod's resolv.conf names 127.0.0.153 in place of the node's loopback servers (resolv-conf.ts).
 *
 * When: only for a pod with a user-mode stack (pasta, slirp4netns) whose dnsPolicy takes the node's
 * resolvers (Default, and ClusterFirst falling back to it) and whose node file has a loopback
 * nameserver: other nameservers are reached through the stack as any outside address. Not for
 * `--network=none`: that pod is hermetic, and a relay would be a way out of it (a query is data
 * leaving the machine's resolver); its resolv.conf keeps the loopback servers, where a query fails
 * at once. Not for hostNetwork: it shares the node's loopback.
 *
 * Its life is the pod's: made before the first container, closed at teardown; a successor
 * supervisor adopting the pod makes it again from the plan saved in the pod's network. Between two
 * supervisors nothing listens there, and a query is refused at once (ICMP port unreachable).
 */

/**
 * The relay's address: a pod-loopback address, so it exists from the sandbox's creation (lo is up
 * before the stack configures eth0) and is reachable from the pod only, never from other pods or
 * through published ports. Port 53, since resolv.conf names no port; the helper binds it with the
 * capabilities of the pod's user namespace. Not 127.0.0.1 (dnsmasq or an app's own resolver in the
 * pod), nor 127.0.0.53/54 (systemd-resolved's stubs in an image that runs it); the kubelet puts
 * nothing on a pod's loopback. An app in the pod that binds the wildcard address on port 53
 * (0.0.0.0:53) conflicts with it: such a pod (a DNS server) wants dnsPolicy None or --network=none.
 */
export const DNS_RELAY_ADDRESS = '127.0.0.153';
const DNS_PORT = 53;

export interface DnsUpstream {
  host: string;
  port: number;
}

/** What the relay of a pod does, saved in its network (status.json) for a successor to make it again. */
export interface DnsRelayPlan {
  /** where it listens in the pod (port 53, UDP and TCP) */
  address: string;
  /** the node's loopback resolvers, in the order of its resolv.conf */
  upstreams: DnsUpstream[];
}

/** Queries forwarded at once; more are dropped (the client retries), as dnsmasq's dns-forward-max (150). */
const MAX_QUERIES_IN_FLIGHT = 150;
/** How long a resolver has to answer before the query goes to the next (glibc's per-try timeout is 5 s). */
const UPSTREAM_TIMEOUT_MS = 2000;
/** TCP connections at once, and how long one may sit idle (RFC 7766 section 6.2.3 suggests seconds). */
const MAX_TCP_CONNECTIONS = 32;
const TCP_IDLE_MS = 10_000;
/** The DNS header's length: anything shorter is no message. */
const HEADER_LENGTH = 12;

/**
 * The port the relay sends to. Testing knob: PODBOX_TESTING_DNS_PORT, since a test run by a user
 * cannot serve on the host's port 53 (resolv.conf has no port to say another). Never set it for real use.
 */
export function dnsUpstreamPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = Number(env.PODBOX_TESTING_DNS_PORT);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : DNS_PORT;
}

/** The pod's relay (see above for when), or undefined when it needs none. `hostText`: the node's resolv.conf. */
export function planDnsRelay(
  pod: Pod,
  hostText: string | undefined,
  mode: NetworkMode,
  env: NodeJS.ProcessEnv = process.env,
): DnsRelayPlan | undefined {
  if (mode !== 'pasta' && mode !== 'slirp4netns') return undefined;
  if (pod.spec.dnsPolicy === 'None') return undefined;
  const loopback = [...new Set(parseResolvConf(hostText ?? '').servers.filter(isLoopback))];
  if (!loopback.length) return undefined;
  const port = dnsUpstreamPort(env);
  return { address: DNS_RELAY_ADDRESS, upstreams: loopback.map((host) => ({ host, port })) };
}

/** A pod's relay, listening in its network namespace until close(). */
export class DnsRelay {
  private readonly inFlight = new Set<() => void>();
  private readonly connections = new Set<net.Socket>();
  private closed = false;

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    private readonly upstreams: DnsUpstream[],
  ) {
    udp.on('message', (query, client) => this.query(query, client));
    // A failed receive or send is one query lost, never the supervisor: the client retries.
    udp.on('error', () => {});
    tcp.on('connection', (c) => this.connection(c));
    tcp.on('error', () => {});
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
  }

  /** Binds plan.address:53 (UDP and TCP) in the namespaces of pausePid. `what` names the pod in errors. */
  static open(pausePid: number, plan: DnsRelayPlan, what: string): DnsRelay {
    const family = net.isIPv6(plan.address) ? 'udp6' : 'udp4';
    const fds: number[] = [];
    try {
      fds.push(native().boundSocketInNamespace(pausePid, 'udp', plan.address, DNS_PORT));
      fds.push(native().boundSocketInNamespace(pausePid, 'tcp', plan.address, DNS_PORT));
    } catch (e) {
      for (const fd of fds) closeSync(fd);
      throw new PodboxError(
        'NetworkFailed',
        `${what}: the DNS relay could not listen on ${plan.address}:${DNS_PORT} in the pod: ${(e as Error).message}`,
        'run the pod with dnsPolicy None and spec.dnsConfig.nameservers, or run `podbox doctor`',
      );
    }
    const udp = dgram.createSocket(family);
    udp.bind({ fd: fds[0]! });
    const tcp = net.createServer({ allowHalfOpen: true });
    tcp.listen({ fd: fds[1]! });
    return new DnsRelay(udp, tcp, plan.upstreams);
  }

  /** Stops listening, and drops every query and connection under way. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.udp.close();
    this.tcp.close();
    for (const end of [...this.inFlight]) end();
    for (const c of this.connections) c.destroy();
  }

  /**
   * One UDP query from the pod. Only what looks like a query goes on (a header, the QR bit clear:
   * an answer sent to the relay would otherwise be bounced to the resolver); its content is the
   * resolver's to judge. The answer is taken only from the resolver asked, on the socket made for
   * this query, with the query's ID.
   */
  private query(query: Buffer, client: dgram.RemoteInfo, next = 0): void {
    if (this.closed || query.length < HEADER_LENGTH || (query[2]! & 0x80) !== 0) return;
    if (next === 0 && this.inFlight.size >= MAX_QUERIES_IN_FLIGHT) return;
    const upstream = this.upstreams[next];
    if (!upstream) return;
    const out = dgram.createSocket(net.isIPv6(upstream.host) ? 'udp6' : 'udp4');
    const end = () => {
      clearTimeout(timer);
      this.inFlight.delete(end);
      out.close();
    };
    this.inFlight.add(end);
    const timer = setTimeout(() => {
      end();
      this.query(query, client, next + 1);
    }, UPSTREAM_TIMEOUT_MS);
    out.on('error', end);
    out.on('message', (answer, from) => {
      if (from.address !== upstream.host || from.port !== upstream.port) return;
      if (answer.length < HEADER_LENGTH || answer.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      end();
      if (!this.closed) this.udp.send(answer, client.port, client.address, () => {});
    });
    out.send(query, upstream.port, upstream.host, (e) => {
      if (e) end();
    });
  }

  /** One TCP connection from the pod (a truncated answer's retry): piped to the first resolver that accepts. */
  private connection(client: net.Socket, next = 0): void {
    const upstream = this.upstreams[next];
    if (this.closed || !upstream) {
      client.destroy();
      return;
    }
    if (next === 0) {
      this.connections.add(client);
      client.once('close', () => this.connections.delete(client));
      client.on('error', () => client.destroy());
      client.setTimeout(TCP_IDLE_MS, () => client.destroy());
      client.pause();
    }
    const out = net.connect({ host: upstream.host, port: upstream.port, allowHalfOpen: true });
    this.connections.add(out);
    out.once('close', () => this.connections.delete(out));
    const failed = () => {
      out.destroy();
      this.connection(client, next + 1);
    };
    out.once('error', failed);
    out.once('connect', () => {
      out.off('error', failed);
      out.on('error', () => out.destroy());
      out.once('close', () => client.destroy());
      client.once('close', () => out.destroy());
      out.setTimeout(TCP_IDLE_MS, () => out.destroy());
      client.pipe(out);
      out.pipe(client);
      client.resume();
    });
  }
}
