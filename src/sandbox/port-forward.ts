import net from 'node:net';
import type { Pod } from '../api/types.js';
import { podDial } from '../probe/dial.js';
import { errnoText, errorText } from '../probe/text.js';

/**
 * `podbox port-forward`: ports on the host whose connections are piped to the pod's localhost, as
 * `kubectl port-forward` does through the kubelet and the runtime (client-go tools/portforward
 * portforward.go; containerd internal/cri/server/sandbox_portforward_linux.go portForward):
 *
 *   client ──TCP──▶ listener on the host (127.0.0.1 and ::1 by default)
 *                     │ per connection: a socket made in the pod's network namespace
 *                     ▼ (probe/dial.ts podDial: the probes' way in), connected to 127.0.0.1:REMOTE,
 *                       else [::1]:REMOTE, as containerd tries them
 *   app in the pod ◀──┘ bytes both ways until either side is done
 *
 * No stack or tun device is needed, so it works for a pod with `--network=none`.
 */

/** One `[LOCAL:]REMOTE`: local 0 means a port chosen by the kernel. */
export interface ForwardedPort {
  local: number;
  remote: number;
}

/**
 * kubectl's convertPodNamedPortToNumber then client-go's parsePorts: `8080:80`, `80` (the same port
 * on both sides), `:80` (a random local port), and a container port's name for REMOTE.
 */
export function parsePorts(specs: string[], pod: Pod): ForwardedPort[] {
  return specs.map((spec) => {
    const parts = spec.split(':');
    if (parts.length > 2) throw new Error(`invalid port format '${spec}'`);
    const [localText, remoteText] = parts.length === 2 ? [parts[0]!, parts[1]!] : [parts[0]!, parts[0]!];
    // A name is what strconv.Atoi does not read as a number.
    const remoteNumber = /^[+-]?\d+$/.test(remoteText) ? remoteText : String(namedPort(pod, remoteText));
    // A name alone (`http`) forwards the container port's number on both sides.
    const local = parts.length === 1 ? remoteNumber : localText === '' ? '0' : localText;
    const localPort = parseUint16(local, 'local');
    const remotePort = parseUint16(remoteNumber, 'remote');
    if (remotePort === 0) throw new Error('remote port must be > 0');
    return { local: localPort, remote: remotePort };
  });
}

/** util.LookupContainerPortNumberByName. */
function namedPort(pod: Pod, name: string): number {
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  }
  throw new Error(`Pod '${pod.metadata.name}' does not have a named port '${name}'`);
}

/** strconv.ParseUint(s, 10, 16) with parsePorts' wording. */
function parseUint16(s: string, side: 'local' | 'remote'): number {
  const why = !/^\d+$/.test(s) ? 'invalid syntax' : Number(s) > 65535 ? 'value out of range' : undefined;
  if (why) throw new Error(`error parsing ${side} port '${s}': strconv.ParseUint: parsing "${s}": ${why}`);
  return Number(s);
}

/** A host address to listen on; `all`: the port fails only if every such address failed (localhost). */
export interface ListenAddress {
  host: string;
  family: 4 | 6 | 0;
  failureMode: 'all' | 'any';
}

/** client-go portforward.go parseAddresses: `localhost` is 127.0.0.1 and ::1; anything else an IP. */
export function parseAddresses(addresses: string[]): ListenAddress[] {
  const out: ListenAddress[] = [];
  const seen = new Set<string>();
  for (const a of addresses) {
    if (seen.has(a)) continue;
    seen.add(a);
    if (a === 'localhost') {
      out.push({ host: '127.0.0.1', family: 4, failureMode: 'all' }, { host: '::1', family: 6, failureMode: 'all' });
    } else if (net.isIP(a)) {
      out.push({ host: a, family: 0, failureMode: 'any' });
    } else {
      throw new Error(`${a} is not a valid IP`);
    }
  }
  return out;
}

/** What the forwarder tells its user, in kubectl's words (the caller prints them). */
export interface ForwardOutput {
  /** "Forwarding from 127.0.0.1:8080 -> 80", "Handling connection for 8080" */
  out(line: string): void;
  /** "Unable to listen on port 8080: …", "an error occurred forwarding 8080 -> 80: …" */
  err(line: string): void;
  /**
   * A connection into the pod failed: client-go's handleConnection (tools/portforward/portforward.go)
   * closes its whole stream connection after such an error, and ForwardPorts returns
   * ErrLostConnectionToPod, so kubectl ends with "lost connection to pod" (exit 1, since
   * kubernetes PR 114460).
   */
  lost?(): void;
}

export interface PodTarget {
  name: string;
  uid: string;
  pausePid: number;
}

/**
 * Listens on every address for every port and forwards each connection into the pod. Resolves
 * once listening, with the ports as bound (a random local port filled in); rejects, with
 * client-go's message, when no port could be listened on.
 */
export class PortForwarder {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly target: PodTarget,
    private readonly output: ForwardOutput,
  ) {}

  async listen(ports: ForwardedPort[], addresses: ListenAddress[]): Promise<ForwardedPort[]> {
    let any = false;
    const bound: ForwardedPort[] = [];
    for (const requested of ports) {
      // The first listener fixes a random port; the other addresses use the same (portforward.go getListener).
      const port = { ...requested };
      const errors: string[] = [];
      const failed = { all: 0, any: 0 };
      const succeeded = { all: 0, any: 0 };
      for (const a of addresses) {
        try {
          port.local = await this.listenOn(a, port);
          succeeded[a.failureMode]++;
        } catch (e) {
          errors.push(`unable to create listener: Error ${errorText(e)}`);
          failed[a.failureMode]++;
        }
      }
      if ((succeeded.all === 0 && failed.all > 0) || failed.any > 0) {
        const listeners = `Listeners failed to create with the following errors: [${errors.join(' ')}]`;
        this.output.err(`Unable to listen on port ${port.local}: ${listeners}`);
      } else {
        any = true;
      }
      bound.push(port);
    }
    if (!any) {
      this.close();
      const list = ports.map((p) => `{${p.local} ${p.remote}}`).join(' ');
      throw new Error(`unable to listen on any of the requested ports: [${list}]`);
    }
    return bound;
  }

  /** Stops listening and drops every forwarded connection. */
  close(): void {
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.destroy();
  }

  private listenOn(a: ListenAddress, port: ForwardedPort): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true }, (c) => this.handle(c, port));
      const where = a.host.includes(':') ? `[${a.host}]` : a.host;
      server.once('error', (e: NodeJS.ErrnoException) => {
        const tcp = a.family ? `tcp${a.family}` : 'tcp';
        reject(
          new Error(`listen ${tcp} ${where}:${port.local}: ${e.syscall ?? 'bind'}: ${errnoText(e.code, e.errno)}`),
        );
      });
      server.listen({ host: a.host, port: port.local, ipv6Only: a.family === 6 }, () => {
        const local = (server.address() as net.AddressInfo).port;
        this.servers.push(server);
        this.output.out(`Forwarding from ${where}:${local} -> ${port.remote}`);
        resolve(local);
      });
    });
  }

  /** portforward.go handleConnection, with the runtime's dial on the far side. */
  private handle(client: net.Socket, port: ForwardedPort): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    this.output.out(`Handling connection for ${port.local}`);
    void this.dialPod(port.remote).then(
      (remote) => {
        this.sockets.add(remote);
        remote.once('close', () => {
          this.sockets.delete(remote);
          client.destroy();
        });
        remote.on('error', () => remote.destroy());
        client.once('close', () => remote.destroy());
        // Each side's end is passed on (a half-close), as the streams' Close does.
        client.pipe(remote);
        remote.pipe(client);
        client.resume();
      },
      (e: unknown) => {
        // The kubelet's httpstream.go portForward wording around the runtime's, then the client is closed.
        const { name, uid } = this.target;
        this.output.err(
          `an error occurred forwarding ${port.local} -> ${port.remote}: error forwarding port ${port.remote} ` +
            `to pod ${name}, uid ${uid}: ${errorText(e)}`,
        );
        client.destroy();
        this.output.lost?.();
      },
    );
  }

  /** containerd's portForward: 127.0.0.1 first, then ::1, inside the pod's network namespace. */
  private async dialPod(port: number): Promise<net.Socket> {
    let v4: string;
    try {
      return await connected(podDial(this.target.pausePid)('127.0.0.1', port));
    } catch (e) {
      v4 = dialError('tcp4', `127.0.0.1:${port}`, e);
    }
    try {
      return await connected(podDial(this.target.pausePid)('::1', port));
    } catch (e) {
      const v6 = dialError('tcp6', `[::1]:${port}`, e);
      throw new Error(
        `failed to connect to localhost:${port} inside the pod's network namespace, IPv4: ${v4} IPv6 ${v6}`,
      );
    }
  }
}

function connected(s: net.Socket): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      s.destroy();
      reject(e);
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

/** Go's net.Dial error text: `dial tcp4 127.0.0.1:80: connect: connection refused`. */
function dialError(network: string, addr: string, e: unknown): string {
  const n = e as NodeJS.ErrnoException;
  if (n.code) return `dial ${network} ${addr}: ${n.syscall ?? 'connect'}: ${errnoText(n.code, n.errno)}`;
  return `dial ${network} ${addr}: ${errorText(e)}`;
}
