import { childOf } from '../sandbox/processes.js';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import http2 from 'node:http2';
import { lookup } from 'node:dns/promises';
import { closeSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { getSystemErrorMap } from 'node:util';
import { native } from '../sandbox/native.js';
import { waitForExit } from '../sandbox/sandbox.js';
import { devNullFd } from '../sandbox/namespaces.js';
import { Runc } from '../container/runc.js';
import { expand } from '../spec/env.js';
import { goDuration } from './timing.js';
import type { Container, HTTPGetAction, LifecycleHandler, Probe, GRPCAction, ExecAction } from '../spec/types.js';

/**
 * Runs Kubernetes probe and lifecycle-hook handlers the way the kubelet's prober does
 * (pkg/kubelet/prober/prober.go runProbe, pkg/kubelet/lifecycle/handlers.go Run): from the host,
 * with nothing needed inside the image. httpGet, tcpSocket and grpc connect from inside the pod's
 * network namespace (a socket made there by the native addon), so an app that binds only
 * 127.0.0.1 in its pod is reachable, as it is from a kubelet dialling the pod IP. exec runs under
 * `runc exec` in the container. Messages are the kubelet's, so events read as in Kubernetes.
 * When to run a handler, and what a result means for the container, is the pod state machine's.
 */

/** The Kubernetes release whose kubelet podbox imitates: the version in `User-Agent: kube-probe/…`. */
export const KUBE_VERSION = '1.33';

/** Opens a TCP connection to ip:port (an IP literal); the socket may still be connecting. */
export type Dial = (ip: string, port: number) => net.Socket;

export interface HandlerTarget {
  /** host pid of the pod's pause process (its network namespace is the pod's) */
  pausePid: number;
  /** runc of the pod, for exec handlers */
  runc: Runc;
  /** runc container id, e.g. "web.0" */
  containerId: string;
  /** the container's spec: named ports, env for `$(VAR)` in probe commands */
  container: Container;
  /** the pod IP: the host of httpGet and tcpSocket when they name none, and of grpc */
  podIP: string;
  /** where TCP connections come from; the default opens them in the pod (tests point it elsewhere) */
  dial?: Dial;
}

export interface HandlerResult {
  ok: boolean;
  /**
   * What the kubelet reports: for a probe the prober's output (on failure the text of the
   * `Liveness probe failed: …` event; on success the body, command output or "service healthy"),
   * for a hook its error (the state machine wraps it with hookFailureMessage).
   */
  message: string;
  /** response body (up to 10 KiB) or command output (stdout then stderr, up to 10 KiB) */
  output?: string;
  /** succeeded with a warning the kubelet makes an event of (ProbeWarning, LifecycleHTTPFallback) */
  warning?: boolean;
}

/** Runs a probe's handler once, within p.timeoutSeconds. Never throws. */
export async function runProbe(p: Probe, t: HandlerTarget): Promise<HandlerResult> {
  const timeoutMs = p.timeoutSeconds * 1000;
  try {
    if (p.exec) {
      // prober.go: probe commands get $(VAR) from the container's literal env values only
      // (kubecontainer.ExpandContainerCommandOnlyStatic).
      const vars = new Map((t.container.env ?? []).map((e) => [e.name, e.value ?? '']));
      const command = p.exec.command.map((s) => expand(s, vars));
      const r = await execInContainer(t, command, timeoutMs);
      // pkg/probe/exec/exec.go: exit 0 is success, any other exit a failure; either way the
      // output is the message. A timeout is a failure with the runtime's "timed out" error.
      if (r.kind === 'exited') return { ok: r.code === 0, message: r.output, output: r.output };
      return { ok: false, message: r.message, ...(r.kind === 'timedOut' ? { output: r.output } : {}) };
    }
    if (p.httpGet) return await httpProbe(p.httpGet, t, timeoutMs);
    if (p.tcpSocket) {
      const port = resolveProbePort(p.tcpSocket.port, t.container);
      return await tcpProbe(p.tcpSocket.host || t.podIP, port, t, timeoutMs);
    }
    if (p.grpc) return await grpcProbe(p.grpc, t, timeoutMs);
    return { ok: false, message: `missing probe handler for container "${t.container.name}"` };
  } catch (e) {
    // The kubelet's "probe errored" cases (a port it cannot resolve, a body it cannot read).
    return { ok: false, message: errorText(e) };
  }
}

/**
 * Runs a postStart or preStop handler (handlers.go Run), for at most timeoutSeconds (the
 * kubelet bounds preStop by the grace period). `signal` ends a sleep early, as the kubelet's
 * context does when the container terminates first. Never throws.
 */
export async function runHook(h: LifecycleHandler, t: HandlerTarget, timeoutSeconds: number, signal?: AbortSignal): Promise<HandlerResult> {
  const timeoutMs = timeoutSeconds * 1000;
  try {
    if (h.exec) return await execHook(h.exec, t, timeoutMs);
    if (h.httpGet) return await httpHook(h.httpGet, t, timeoutMs);
    if (h.sleep) return await sleepHook(h.sleep.seconds, timeoutMs, signal);
    // tcpSocket is accepted in the API for compatibility but the kubelet never runs it.
    return { ok: false, message: `Cannot run handler: invalid handler: ${h.tcpSocket ? 'tcpSocket is not supported as a lifecycle handler' : 'no handler'}` };
  } catch (e) {
    return { ok: false, message: errorText(e) };
  }
}

/**
 * The FailedPostStartHook / FailedPreStopHook event message (handlers.go Run). `pod` is as the
 * kubelet formats it (format.Pod: name_namespace(uid)).
 */
export function hookFailureMessage(h: LifecycleHandler, containerName: string, pod: string, r: HandlerResult): string {
  const where = `for Container ${goQuote(containerName)} in Pod ${goQuote(pod)} failed - error: ${r.message}`;
  if (h.exec) return `Exec lifecycle hook ([${h.exec.command.join(' ')}]) ${where}, message: ${goQuote(r.output ?? '')}`;
  if (h.httpGet) return `HTTP lifecycle hook (${h.httpGet.path}) ${where}`;
  if (h.sleep) return `Sleep lifecycle hook (${h.sleep.seconds}) ${where}`;
  return r.message;
}

// ---------------------------------------------------------------------------------------------
// Ports, headers, URLs (pure)

/** The kubelet's cap on a probe's response body and on a command's output (10 KiB). */
export const MAX_OUTPUT = 10 * 1024;

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

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The probe URL (pkg/probe/http/request.go formatURL): the path as given, scheme and host:port set. */
export function probeURL(a: HTTPGetAction, host: string, port: number): URL {
  const path = a.path.startsWith('/') ? a.path : `/${a.path}`;
  return new URL(`${a.scheme === 'HTTPS' ? 'https' : 'http'}://${joinHostPort(host, port)}${path}`);
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-custom-header` is sent as `X-Custom-Header`. */
export function canonicalHeaderName(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
}

/**
 * The request headers (request.go newProbeRequest): httpHeaders in order (a repeated name is
 * sent repeatedly), `User-Agent: kube-<purpose>/<version>` and `Accept: *\/*` unless given (an
 * empty Accept removes it); `Host`, when given, replaces host:port in the Host header.
 */
export function probeHeaders(a: HTTPGetAction, purpose: 'probe' | 'lifecycle'): { headers: Record<string, string[]>; host?: string } {
  const headers: Record<string, string[]> = {};
  for (const h of a.httpHeaders ?? []) (headers[canonicalHeaderName(h.name)] ??= []).push(h.value);
  if (!headers['User-Agent']) headers['User-Agent'] = [`kube-${purpose}/${KUBE_VERSION}`];
  // Go sends no User-Agent at all when it is set empty.
  else if (headers['User-Agent'][0] === '') delete headers['User-Agent'];
  if (!headers.Accept) headers.Accept = ['*/*'];
  else if (headers.Accept[0] === '') delete headers.Accept;
  // Go writes Host from req.Host, never from the header map.
  const host = headers.Host?.[0] || undefined;
  delete headers.Host;
  return { headers, host };
}

// ---------------------------------------------------------------------------------------------
// Go's wording

/** Go's %q for a string (strconv.Quote), as the kubelet quotes URLs, commands and output. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd) out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

/** Go's text for a socket errno (syscall.Errno.Error() on Linux), e.g. "connection refused". */
function errnoText(code: string | undefined, errno?: number): string {
  const go: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by peer',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network is unreachable',
    ETIMEDOUT: 'connection timed out',
    EADDRNOTAVAIL: 'cannot assign requested address',
    ECONNABORTED: 'software caused connection abort',
    EPIPE: 'broken pipe',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
  };
  if (code && go[code]) return go[code]!;
  const libuv = errno !== undefined ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return libuv ?? code ?? 'unknown error';
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Connecting inside the pod

/**
 * Dials from the pod's network namespace: the addon makes an unconnected TCP socket there
 * (native/namespaces.c pb_socket_in_namespace; a socket stays in the namespace it was made in),
 * and Node connects it. `connect` must be called at once, with an IP literal: the net.Socket
 * constructor starts reading its fd, and a read on a socket not yet connecting fails with
 * ENOTCONN; called in the same tick, the connect is under way before the event loop polls.
 */
export function podDial(pausePid: number): Dial {
  return (ip, port) => {
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

class DialError extends Error {
  constructor(message: string, readonly timedOut: boolean) {
    super(message);
  }
}

/**
 * A connected socket to host:port, or a DialError worded as Go's net.Dial (`dial tcp ADDR:
 * connect: connection refused`, `dial tcp ADDR: i/o timeout`). A name is resolved on the host,
 * as the kubelet (in the host's network) resolves it.
 */
async function connect(t: HandlerTarget, host: string, port: number, deadline: number): Promise<net.Socket> {
  let ip = host;
  if (!net.isIP(host)) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DialError(`dial tcp: lookup ${host}: i/o timeout`, true)), Math.max(0, deadline - Date.now()));
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
    const onError = (e: NodeJS.ErrnoException) => done(new DialError(`dial tcp ${addr}: ${e.syscall ?? 'connect'}: ${errnoText(e.code, e.errno)}`, false));
    const onConnect = () => done();
    const timer = setTimeout(() => done(new DialError(`dial tcp ${addr}: i/o timeout`, true)), Math.max(0, deadline - Date.now()));
    s.once('error', onError);
    s.once('connect', onConnect);
  });
}

// ---------------------------------------------------------------------------------------------
// tcpSocket

/** pkg/probe/tcp/tcp.go: success is a connection made within the timeout; it is closed at once. */
async function tcpProbe(host: string, port: number, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  try {
    const s = await connect(t, host, port, Date.now() + timeoutMs);
    s.destroy();
    return { ok: true, message: '' };
  } catch (e) {
    return { ok: false, message: errorText(e) };
  }
}

// ---------------------------------------------------------------------------------------------
// httpGet

type HttpOutcome =
  | { kind: 'response'; status: number; body: string }
  /** no response: `message` is the whole error as Go's client words it */
  | { kind: 'error'; message: string; httpOnHttps: boolean };

/** An error from one request, worded as Go's transport (without the `Get "URL": ` of url.Error). */
class RequestError extends Error {
  constructor(message: string, readonly opts: { inBody?: boolean; httpOnHttps?: boolean } = {}) {
    super(message);
  }
}

const AWAITING_HEADERS = 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)';
const READING_BODY = 'context deadline exceeded (Client.Timeout or context cancellation while reading body)';
const HTTP_ON_HTTPS = 'http: server gave HTTP response to HTTPS client';

/** pkg/probe/http/http.go DoHTTPProbe: 200–399 succeeds (a redirect not followed with a warning). */
async function httpProbe(a: HTTPGetAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const port = resolveProbePort(a.port, t.container);
  const r = await httpGet(a, port, t, timeoutMs, 'probe');
  if (r.kind === 'error') return { ok: false, message: r.message };
  if (r.status >= 200 && r.status < 400) {
    if (r.status >= 300) return { ok: true, warning: true, message: `Probe terminated redirects, Response body: ${r.body}`, output: r.body };
    return { ok: true, message: r.body, output: r.body };
  }
  // The failure message never carries the body (https://issue.k8s.io/99425).
  return { ok: false, message: `HTTP probe failed with statuscode: ${r.status}`, output: r.body };
}

/**
 * handlers.go runHTTPHandler: any response is success (the status is not looked at); an HTTPS
 * hook answered in plain HTTP is retried over HTTP without Authorization, with a warning event.
 */
async function httpHook(a: HTTPGetAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const port = resolveHookPort(a.port, t.container);
  const deadline = Date.now() + timeoutMs;
  const r = await httpGet(a, port, t, timeoutMs, 'lifecycle');
  if (r.kind === 'response') return { ok: true, message: '', output: r.body };
  if (!r.httpOnHttps) return { ok: false, message: r.message };
  const plain: HTTPGetAction = { ...a, scheme: 'HTTP', httpHeaders: a.httpHeaders?.filter((h) => canonicalHeaderName(h.name) !== 'Authorization') };
  const retry = await httpGet(plain, port, t, Math.max(0, deadline - Date.now()), 'lifecycle');
  if (retry.kind === 'error') return { ok: false, message: r.message };
  const hostPort = joinHostPort(a.host || t.podIP, port);
  return { ok: true, warning: true, message: `request to HTTPS lifecycle hook ${hostPort} got HTTP response, retry with HTTP succeeded`, output: retry.body };
}

/**
 * GET as the kubelet's client does it: one connection per request (DisableKeepAlives), no
 * certificate check (InsecureSkipVerify), no compression, redirects followed while they stay on
 * the first host (http.go RedirectChecker; at most 10), one deadline for the whole exchange.
 */
async function httpGet(a: HTTPGetAction, port: number, t: HandlerTarget, timeoutMs: number, purpose: 'probe' | 'lifecycle'): Promise<HttpOutcome> {
  const deadline = Date.now() + timeoutMs;
  const first = probeURL(a, a.host || t.podIP, port);
  const { headers, host: hostHeader } = probeHeaders(a, purpose);
  let url = first;
  let customHost = hostHeader;
  for (let redirects = 0; ; redirects++) {
    let res: { status: number; body: string; location?: string };
    try {
      res = await getOnce(url, customHost ?? url.host, headers, t, deadline);
    } catch (e) {
      const err = e instanceof RequestError ? e : new RequestError(errorText(e));
      // A body read that fails is not wrapped as url.Error: the kubelet reports it as it is.
      const message = err.opts.inBody ? err.message : `Get ${goQuote(url.href)}: ${err.message}`;
      return { kind: 'error', message, httpOnHttps: !!err.opts.httpOnHttps };
    }
    const loc = res.location;
    if (!isRedirect(res.status) || loc === undefined) return { kind: 'response', status: res.status, body: res.body };
    let next: URL;
    try {
      next = new URL(loc, url);
    } catch {
      return { kind: 'error', message: `Get ${goQuote(url.href)}: failed to parse Location header ${goQuote(loc)}`, httpOnHttps: false };
    }
    // Another host: the kubelet stops and takes this response (ErrUseLastResponse).
    if (next.hostname !== first.hostname) return { kind: 'response', status: res.status, body: res.body };
    if (redirects + 1 >= 10) return { kind: 'error', message: `Get ${goQuote(loc)}: stopped after 10 redirects`, httpOnHttps: false };
    // Go keeps the first request's custom Host for a relative Location only.
    customHost = /^[a-z][a-z0-9+.-]*:/i.test(loc) || loc.startsWith('//') ? undefined : hostHeader;
    url = next;
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** One GET on a fresh connection from the pod; the body is read up to MAX_OUTPUT. */
async function getOnce(url: URL, hostHeader: string, headers: Record<string, string[]>, t: HandlerTarget, deadline: number): Promise<{ status: number; body: string; location?: string }> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let sock: net.Socket;
  try {
    sock = await connect(t, hostname, port, deadline);
  } catch (e) {
    if (e instanceof DialError && e.timedOut) throw new RequestError(AWAITING_HEADERS);
    throw new RequestError(errorText(e));
  }
  const local = `${joinHostPort(sock.localAddress ?? '', sock.localPort ?? 0)}->${joinHostPort(sock.remoteAddress ?? '', sock.remotePort ?? 0)}`;
  let conn: net.Socket = sock;
  if (url.protocol === 'https:') {
    conn = await handshake(sock, net.isIP(hostname) ? undefined : hostname, deadline, local);
  }
  return new Promise((resolve, reject) => {
    let inBody = false;
    let settled = false;
    const finish = (err: RequestError | undefined, value?: { status: number; body: string; location?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new RequestError(inBody ? READING_BODY : AWAITING_HEADERS, { inBody })), Math.max(0, deadline - Date.now()));
    let req: http.ClientRequest;
    try {
      req = http.request({ createConnection: () => conn, method: 'GET', path: url.pathname + url.search, setHost: false, headers: { Host: hostHeader, ...headers } });
    } catch (e) {
      finish(new RequestError(`net/http: ${errorText(e)}`));
      return;
    }
    req.on('error', (e: NodeJS.ErrnoException) => finish(new RequestError(transportError(e, local), { inBody })));
    req.on('response', (res) => {
      inBody = true;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_OUTPUT).toString(), location: res.headers.location });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        // utilio.ReadAtMost: past 10 KiB the body is cut, which is not an error.
        if (size >= MAX_OUTPUT) done();
      });
      res.on('end', done);
      res.on('error', (e: NodeJS.ErrnoException) => finish(new RequestError(transportError(e, local), { inBody: true })));
      res.on('aborted', () => finish(new RequestError('unexpected EOF', { inBody: true })));
    });
    req.end();
  });
}

/** TLS without verifying the certificate, as the kubelet's probe transport (InsecureSkipVerify). */
function handshake(sock: net.Socket, servername: string | undefined, deadline: number, local: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket: sock, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => fail(new RequestError(AWAITING_HEADERS)), Math.max(0, deadline - Date.now()));
    const fail = (e: RequestError) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
    const onError = (e: NodeJS.ErrnoException) => {
      // An HTTP server answering a ClientHello gives OpenSSL "wrong version number": Go names
      // that case (it sees "HTTP/" where a TLS record should be), and the kubelet's hooks act on it.
      if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') fail(new RequestError(HTTP_ON_HTTPS, { httpOnHttps: true }));
      else fail(new RequestError(transportError(e, local)));
    };
    s.on('error', onError);
  });
}

/** A Node transport error in Go's words: `EOF`, `read tcp A->B: read: connection reset by peer`. */
function transportError(e: NodeJS.ErrnoException, local: string): string {
  // The peer closed: Go's reader sees EOF (Node: "socket hang up", or before the TLS handshake ended).
  if (e.message === 'socket hang up' || e.message.startsWith('Client network socket disconnected')) return 'EOF';
  if (e.syscall === 'read' || e.syscall === 'write') return `${e.syscall} tcp ${local}: ${e.syscall}: ${errnoText(e.code, e.errno)}`;
  if (e.code?.startsWith('HPE_')) return `net/http: HTTP/1.x transport connection broken: malformed HTTP response (${e.message})`;
  if (e.code?.startsWith('ERR_SSL_')) return `tls: ${(e as { reason?: string }).reason ?? e.message}`;
  return e.message;
}

// ---------------------------------------------------------------------------------------------
// grpc

/** grpc.health.v1.HealthCheckResponse.ServingStatus names. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
/** google.golang.org/grpc/codes names, by number. */
const GRPC_CODES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

export function grpcCodeName(code: number): string {
  return GRPC_CODES[code] ?? `Code(${code})`;
}

/** HealthCheckRequest { string service = 1; } in protobuf, inside a gRPC length-prefixed frame. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  // proto3 leaves out a field holding its default (""), so the empty service is an empty message.
  const message = s.length ? Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]) : Buffer.alloc(0);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * The `status` (field 1, an enum) of a HealthCheckResponse in a gRPC frame; unknown fields are
 * skipped. Throws on a malformed or compressed frame.
 */
export function decodeHealthCheckResponse(frame: Buffer): number {
  if (frame.length < 5) throw new Error('grpc: received message shorter than its 5-byte prefix');
  if (frame[0] !== 0) throw new Error('grpc: compressed flag set with identity or empty encoding');
  const length = frame.readUInt32BE(1);
  if (frame.length < 5 + length) throw new Error('grpc: received message truncated');
  const m = frame.subarray(5, 5 + length);
  let status = 0n;
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= m.length || shift > 63n) throw new Error('proto: bad varint');
      const b = m[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < m.length) {
    const key = readVarint();
    const field = key >> 3n;
    const wire = Number(key & 7n);
    if (wire === 0) {
      const v = readVarint();
      if (field === 1n) status = v;
    } else if (wire === 1) i += 8;
    else if (wire === 2) {
      const length = Number(readVarint());
      i += length;
    }
    else if (wire === 5) i += 4;
    else throw new Error(`proto: cannot parse wire type ${wire}`);
    if (i > m.length) throw new Error('proto: message truncated');
  }
  // An enum is an int32 on the wire (a negative one takes ten bytes).
  return Number(BigInt.asIntN(32, status));
}

export function servingStatusName(status: number): string {
  return SERVING_STATUS[status] ?? String(status);
}

/** A gRPC status error as grpc-go prints it. */
class RpcError extends Error {
  constructor(readonly code: number, readonly desc: string) {
    super(`rpc error: code = ${grpcCodeName(code)} desc = ${desc}`);
  }
}

/** grpc-go's code for an HTTP status that is not 200 (internal/transport http_util.go). */
function codeForHttpStatus(status: number): number {
  const map: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };
  return map[status] ?? 2;
}

/**
 * pkg/probe/grpc/grpc.go: grpc.health.v1.Health/Check over plaintext HTTP/2; success only on
 * SERVING. Like grpc.DialContext(WithBlock), connecting is retried (grpc-go's backoff: 1s,
 * ×1.6) until the timeout, so a refused port fails only when the timeout is over.
 */
async function grpcProbe(g: GRPCAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const deadline = Date.now() + timeoutMs;
  const host = t.podIP;
  const addr = joinHostPort(host, g.port);
  const within = goDuration(timeoutMs / 1000);
  let session: http2.ClientHttp2Session | undefined;
  for (let backoff = 1000; ; backoff *= 1.6) {
    session = await h2Connect(t, host, g.port, deadline).catch(() => undefined);
    if (session) break;
    const wait = Math.min(backoff, deadline - Date.now());
    if (wait <= 0) return { ok: false, message: `timeout: failed to connect service ${goQuote(addr)} within ${within}: context deadline exceeded` };
    await new Promise((r) => setTimeout(r, wait));
  }
  try {
    const status = await healthCheck(session, addr, g.service ?? '', deadline);
    if (status !== 1) return { ok: false, message: `service unhealthy (responded with ${goQuote(servingStatusName(status))})` };
    return { ok: true, message: 'service healthy' };
  } catch (e) {
    if (e instanceof RpcError) {
      if (e.code === 12) return { ok: false, message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${e.desc}` };
      if (e.code === 4) return { ok: false, message: `timeout: health rpc did not complete within ${within}` };
    }
    return { ok: false, message: `error: health rpc probe failed: ${errorText(e)}` };
  } finally {
    session.destroy();
  }
}

/** An HTTP/2 session over a connection from the pod, ready once the server's SETTINGS came. */
async function h2Connect(t: HandlerTarget, host: string, port: number, deadline: number): Promise<http2.ClientHttp2Session> {
  const sock = await connect(t, host, port, deadline);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${joinHostPort(host, port)}`, { createConnection: () => sock });
    const fail = (e: unknown) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error('context deadline exceeded')), Math.max(0, deadline - Date.now()));
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      session.off('error', fail);
      session.off('close', onClose);
      session.on('error', () => { /* reported by the stream */ });
      resolve(session);
    });
    const onClose = () => fail(new Error('connection closed before server preface received'));
    session.once('error', fail);
    session.once('close', onClose);
  });
}

/** One Health/Check call; the ServingStatus, or an RpcError (DeadlineExceeded at the deadline). */
function healthCheck(session: http2.ClientHttp2Session, authority: string, service: string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const remaining = Math.max(0, deadline - Date.now());
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, remaining)}m`,
      'user-agent': `kube-probe/${KUBE_VERSION}`,
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => settle(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new RpcError(4, 'context deadline exceeded'));
    }), remaining);
    stream.on('response', (h) => { headers = h; });
    stream.on('trailers', (h) => { trailers = h; });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e) => settle(() => reject(new RpcError(14, errorText(e)))));
    stream.on('close', () => settle(() => {
      try {
        resolve(rpcResult(headers, trailers, Buffer.concat(chunks), stream.rstCode));
      } catch (e) {
        reject(e);
      }
    }));
    stream.end(encodeHealthCheckRequest(service));
  });
}

/** The call's outcome from what the server sent (gRPC over HTTP/2: status in the trailers). */
function rpcResult(headers: http2.IncomingHttpHeaders, trailers: http2.IncomingHttpHeaders | undefined, body: Buffer, rstCode: number | undefined): number {
  const httpStatus = Number(headers[':status'] ?? 0);
  if (httpStatus && httpStatus !== 200) {
    throw new RpcError(codeForHttpStatus(httpStatus), `unexpected HTTP status code received from server: ${httpStatus} (${http.STATUS_CODES[httpStatus] ?? ''})`);
  }
  // A "trailers-only" response carries grpc-status in its only HEADERS frame.
  const t = trailers?.['grpc-status'] !== undefined ? trailers : headers;
  const code = t['grpc-status'];
  if (code === undefined) {
    if (rstCode) throw new RpcError(14, `stream terminated by RST_STREAM with error code: ${rstCode}`);
    throw new RpcError(13, 'server closed the stream without sending trailers');
  }
  if (Number(code) !== 0) {
    const raw = String(t['grpc-message'] ?? '');
    let desc = raw;
    try { desc = decodeURIComponent(raw); } catch { /* as sent */ }
    throw new RpcError(Number(code), desc);
  }
  try {
    return decodeHealthCheckResponse(body);
  } catch (e) {
    throw new RpcError(13, errorText(e));
  }
}

// ---------------------------------------------------------------------------------------------
// exec

type ExecOutcome =
  | { kind: 'exited'; code: number; output: string; stderr: string }
  | { kind: 'timedOut'; message: string; output: string }
  | { kind: 'failed'; message: string };

/**
 * Runs a command in the container with `runc exec` (as `podbox exec` does) and waits at most
 * timeoutMs. The output is stdout followed by stderr, cut at 10 KiB: the kubelet's
 * RunInContainer appends the two streams ExecSync returns (kuberuntime_container.go) and the exec
 * prober keeps 10 KiB. On timeout the command is killed, as the runtime kills an ExecSync past
 * its timeout, and the error is the CRI client's `command "…" timed out`.
 */
async function execInContainer(t: HandlerTarget, command: string[], timeoutMs: number): Promise<ExecOutcome> {
  const n = native();
  const [outR, outW] = n.pipe();
  const [errR, errW] = n.pipe();
  const log = `${t.runc.logFile(t.containerId)}.exec-${randomBytes(6).toString('hex')}`;
  let pid: number;
  try {
    pid = t.runc.exec(t.containerId, command, { stdio: [devNullFd(), outW, errW], log });
  } catch (e) {
    closeSync(outR);
    closeSync(errR);
    return { kind: 'failed', message: errorText(e) };
  } finally {
    closeSync(outW);
    closeSync(errW);
  }
  const out = collect(outR);
  const err = collect(errR);
  try {
    const exited = waitForExit(pid);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(true), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (timedOut) killExec(pid);
    const { code, signal } = await exited;
    // A background child may hold the pipes open after the command exits: take what is there.
    const drain = setTimeout(() => { out.stop(); err.stop(); }, 250);
    const [stdout, stderr] = await Promise.all([out.done, err.done]);
    clearTimeout(drain);
    const output = Buffer.concat([stdout, stderr]).subarray(0, MAX_OUTPUT).toString();
    if (timedOut) return { kind: 'timedOut', message: `command ${goQuote(command.join(' '))} timed out`, output };
    // runc exits 255 when it could not start the command; its reason is in the log.
    const reason = code === 255 ? Runc.loggedError(log) : undefined;
    if (reason) return { kind: 'failed', message: reason };
    return { kind: 'exited', code: code ?? 128 + (signal ?? 0), output, stderr: stderr.subarray(0, MAX_OUTPUT).toString() };
  } finally {
    out.stop();
    err.stop();
    rmSync(log, { force: true });
  }
}

/**
 * Kills the command `runc exec` started: runc clones it as its own child (CLONE_PARENT), and
 * SIGKILL cannot be forwarded through runc. Before the command exists, runc itself is killed.
 */
function killExec(runcPid: number): void {
  const target = childOf(runcPid) ?? runcPid;
  try { process.kill(target, 'SIGKILL'); } catch { /* gone meanwhile */ }
}

/** Reads a pipe to its end, keeping the first MAX_OUTPUT bytes (the rest is drained and dropped). */
function collect(fd: number): { done: Promise<Buffer>; stop(): void } {
  const s = new net.Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  let size = 0;
  const done = new Promise<Buffer>((resolve) => {
    s.on('data', (c: Buffer) => {
      if (size < MAX_OUTPUT) chunks.push(c);
      size += c.length;
    });
    s.on('error', () => s.destroy());
    s.on('close', () => resolve(Buffer.concat(chunks).subarray(0, MAX_OUTPUT)));
  });
  return { done, stop: () => s.destroy() };
}

/**
 * An exec hook: the kubelet's error is the CRI's for a non-zero exit, `command 'CMD' exited with
 * N: STDERR` (cri-client ExecSync), and the output goes into the event's message.
 */
async function execHook(e: ExecAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const r = await execInContainer(t, e.command, timeoutMs);
  if (r.kind === 'exited') {
    if (r.code === 0) return { ok: true, message: '', output: r.output };
    return { ok: false, message: `command '${e.command.join(' ')}' exited with ${r.code}: ${r.stderr}`, output: r.output };
  }
  return { ok: false, message: r.message, ...(r.kind === 'timedOut' ? { output: r.output } : {}) };
}

// ---------------------------------------------------------------------------------------------
// sleep

/** handlers.go runSleepHandler: waits, unless the container ends first (`signal`). */
function sleepHook(seconds: number, timeoutMs: number, signal?: AbortSignal): Promise<HandlerResult> {
  const ended = { ok: false, message: 'container terminated before sleep hook finished' };
  if (signal?.aborted) return Promise.resolve(ended);
  return new Promise((resolve) => {
    const cut = timeoutMs < seconds * 1000;
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(cut ? { ok: false, message: `sleep hook did not finish within ${goDuration(timeoutMs / 1000)}` } : { ok: true, message: '' });
    }, Math.min(seconds * 1000, timeoutMs));
    const onAbort = () => {
      clearTimeout(timer);
      resolve(ended);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
