import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { closeSync, statSync } from 'node:fs';
import { native } from '../sandbox/native.js';
import { errnoText, errorText } from './text.js';
import type { Dial, HandlerTarget } from './types.js';

/**
 * Connecting inside the pod: a TCP socket made in the pod's network namespace, connected with
 * the kubelet's deadline and Go's net.Dial wording, for the tcpSocket, httpGet and grpc handlers.
 */

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Dials from the pod's network namespace: the addon makes an unconnected TCP socket there
 * (native/namespaces.c pb_socket_in_namespace; a socket stays in the namespace it was made in),
 * and Node connects it. `connect` must be called at once, with an IP literal: the net.Socket
 * constructor starts reading its fd, and a read on a socket not yet connecting fails with
 * ENOTCONN; called in the same tick, the connect is under way before the event loop polls.
 */
export function podDial(pausePid: number): Dial {
  return (ip, port) => {
    // hostNetwork: pause is in this process's network namespace, which a helper in the pod's user
    // namespace may not join (it is not owned by it): dial from here.
    if (sameNetworkNamespace(pausePid)) return net.connect(port, ip);
    const fd = native().socketInNamespace(pausePid, net.isIPv6(ip) ? 6 : 4);
    let s: net.Socket;
    try {
      s = new net.Socket({ fd });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return s.connect(port, ip);
  };
}

export class DialError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

/**
 * A connected socket to host:port, or a DialError worded as Go's net.Dial (`dial tcp ADDR:
 * connect: connection refused`, `dial tcp ADDR: i/o timeout`). A name is resolved on the host,
 * as the kubelet (in the host's network) resolves it.
 */
export async function connect(t: HandlerTarget, host: string, port: number, deadline: number): Promise<net.Socket> {
  let ip = host;
  if (!net.isIP(host)) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DialError(`dial tcp: lookup ${host}: i/o timeout`, true)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      ip = (await Promise.race([lookup(host), late])).address;
    } catch (e) {
      throw e instanceof DialError ? e : new DialError(`dial tcp: lookup ${host}: no such host`, false);
    } finally {
      clearTimeout(timer);
    }
  }
  const addr = joinHostPort(ip, port);
  let s: net.Socket;
  try {
    s = (t.dial ?? podDial(t.pausePid))(ip, port);
  } catch (e) {
    // The pod's namespace could not be entered (pause has gone): say which kernel step failed.
    throw new DialError(`dial tcp ${addr}: ${errorText(e)}`, false);
  }
  return new Promise((resolve, reject) => {
    const done = (err?: DialError) => {
      clearTimeout(timer);
      s.off('error', onError);
      s.off('connect', onConnect);
      if (err) {
        s.destroy();
        reject(err);
      } else resolve(s);
    };
    const onError = (e: NodeJS.ErrnoException) =>
      done(new DialError(`dial tcp ${addr}: ${e.syscall ?? 'connect'}: ${errnoText(e.code, e.errno)}`, false));
    const onConnect = () => done();
    const timer = setTimeout(
      () => done(new DialError(`dial tcp ${addr}: i/o timeout`, true)),
      Math.max(0, deadline - Date.now()),
    );
    s.once('error', onError);
    s.once('connect', onConnect);
  });
}

function sameNetworkNamespace(pid: number): boolean {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync('/proc/self/ns/net').ino;
  } catch {
    return false;
  }
}
