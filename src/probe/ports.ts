import type { Container } from '../api/types.js';
import { goQuote } from '../kubectl/quote.js';

/** Which port a handler's `port` names: the probe's rule (tcpSocket, httpGet) and the hook's. */

/**
 * A probe's port: a number, or a container port's name, or a number written as a string
 * (pkg/probe/util.go ResolveContainerPort); 1–65535.
 */
export function resolveProbePort(port: number | string, c: Container): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else {
    const named = c.ports?.find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new Error(`strconv.Atoi: parsing ${goQuote(port)}: invalid syntax`);
  }
  if (n > 0 && n < 65536) return n;
  throw new Error(`invalid port number: ${n}`);
}

/** A hook's port: a number, a number as a string, or a port name (handlers.go resolvePort). */
export function resolveHookPort(port: number | string, c: Container): number {
  if (typeof port === 'number') return port;
  if (/^[+-]?\d+$/.test(port)) return Number(port);
  const named = c.ports?.find((p) => p.name === port);
  if (named) return named.containerPort;
  throw new Error(`couldn't find port: ${port} in container ${goQuote(c.name)}`);
}
