import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import type { HTTPGetAction } from '../api/types.js';
import { KUBE_VERSION, MAX_OUTPUT, errnoText, errorText } from './text.js';
import { goQuote } from '../kubectl/quote.js';
import { DialError, connect, joinHostPort } from './dial.js';
import { resolveHookPort, resolveProbePort } from './ports.js';
import type { HandlerResult, HandlerTarget } from './types.js';

/**
 * The httpGet handler, probe and hook, as the kubelet's HTTP client sends it: the request
 * (URL, headers), the GET over a connection from the pod (TLS without verification, redirects
 * on the first host, one deadline), and Go's wording of what went wrong.
 */

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
export function probeHeaders(
  a: HTTPGetAction,
  purpose: 'probe' | 'lifecycle',
): { headers: Record<string, string[]>; host?: string } {
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

type HttpOutcome =
  | { kind: 'response'; status: number; body: string }
  /** no response: `message` is the whole error as Go's client words it */
  | { kind: 'error'; message: string; httpOnHttps: boolean };

/** An error from one request, worded as Go's transport (without the `Get "URL": ` of url.Error). */
class RequestError extends Error {
  constructor(
    message: string,
    readonly opts: { inBody?: boolean; httpOnHttps?: boolean } = {},
  ) {
    super(message);
  }
}

const AWAITING_HEADERS = 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)';
const READING_BODY = 'context deadline exceeded (Client.Timeout or context cancellation while reading body)';
const HTTP_ON_HTTPS = 'http: server gave HTTP response to HTTPS client';

/** pkg/probe/http/http.go DoHTTPProbe: 200–399 succeeds (a redirect not followed with a warning). */
export async function httpProbe(a: HTTPGetAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const port = resolveProbePort(a.port, t.container);
  const r = await httpGet(a, port, t, timeoutMs, 'probe');
  if (r.kind === 'error') return { ok: false, message: r.message };
  if (r.status >= 200 && r.status < 400) {
    if (r.status >= 300)
      return {
        ok: true,
        warning: true,
        message: `Probe terminated redirects, Response body: ${r.body}`,
        output: r.body,
      };
    return { ok: true, message: r.body, output: r.body };
  }
  // The failure message never carries the body (https://issue.k8s.io/99425).
  return { ok: false, message: `HTTP probe failed with statuscode: ${r.status}`, output: r.body };
}

/**
 * handlers.go runHTTPHandler: any response is success (the status is not looked at); an HTTPS
 * hook answered in plain HTTP is retried over HTTP without Authorization, with a warning event.
 */
export async function httpHook(a: HTTPGetAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const port = resolveHookPort(a.port, t.container);
  const deadline = Date.now() + timeoutMs;
  const r = await httpGet(a, port, t, timeoutMs, 'lifecycle');
  if (r.kind === 'response') return { ok: true, message: '', output: r.body };
  if (!r.httpOnHttps) return { ok: false, message: r.message };
  const plain: HTTPGetAction = {
    ...a,
    scheme: 'HTTP',
    httpHeaders: a.httpHeaders?.filter((h) => canonicalHeaderName(h.name) !== 'Authorization'),
  };
  const retry = await httpGet(plain, port, t, Math.max(0, deadline - Date.now()), 'lifecycle');
  if (retry.kind === 'error') return { ok: false, message: r.message };
  const hostPort = joinHostPort(a.host || t.podIP, port);
  return {
    ok: true,
    warning: true,
    message: `request to HTTPS lifecycle hook ${hostPort} got HTTP response, retry with HTTP succeeded`,
    output: retry.body,
  };
}

/**
 * GET as the kubelet's client does it: one connection per request (DisableKeepAlives), no
 * certificate check (InsecureSkipVerify), no compression, redirects followed while they stay on
 * the first host (http.go RedirectChecker; at most 10), one deadline for the whole exchange.
 */
async function httpGet(
  a: HTTPGetAction,
  port: number,
  t: HandlerTarget,
  timeoutMs: number,
  purpose: 'probe' | 'lifecycle',
): Promise<HttpOutcome> {
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
      return {
        kind: 'error',
        message: `Get ${goQuote(url.href)}: failed to parse Location header ${goQuote(loc)}`,
        httpOnHttps: false,
      };
    }
    // Another host: the kubelet stops and takes this response (ErrUseLastResponse).
    if (next.hostname !== first.hostname) return { kind: 'response', status: res.status, body: res.body };
    if (redirects + 1 >= 10)
      return { kind: 'error', message: `Get ${goQuote(loc)}: stopped after 10 redirects`, httpOnHttps: false };
    // Go keeps the first request's custom Host for a relative Location only.
    customHost = /^[a-z][a-z0-9+.-]*:/i.test(loc) || loc.startsWith('//') ? undefined : hostHeader;
    url = next;
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** One GET on a fresh connection from the pod; the body is read up to MAX_OUTPUT. */
async function getOnce(
  url: URL,
  hostHeader: string,
  headers: Record<string, string[]>,
  t: HandlerTarget,
  deadline: number,
): Promise<{ status: number; body: string; location?: string }> {
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
    const timer = setTimeout(
      () => finish(new RequestError(inBody ? READING_BODY : AWAITING_HEADERS, { inBody })),
      Math.max(0, deadline - Date.now()),
    );
    let req: http.ClientRequest;
    try {
      req = http.request({
        createConnection: () => conn,
        method: 'GET',
        path: url.pathname + url.search,
        setHost: false,
        headers: { Host: hostHeader, ...headers },
      });
    } catch (e) {
      finish(new RequestError(`net/http: ${errorText(e)}`));
      return;
    }
    req.on('error', (e: NodeJS.ErrnoException) => finish(new RequestError(transportError(e, local), { inBody })));
    req.on('response', (res) => {
      inBody = true;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).subarray(0, MAX_OUTPUT).toString(),
          location: res.headers.location,
        });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        // utilio.ReadAtMost: past 10 KiB the body is cut, which is not an error.
        if (size >= MAX_OUTPUT) done();
      });
      res.on('end', done);
      res.on('error', (e: NodeJS.ErrnoException) =>
        finish(new RequestError(transportError(e, local), { inBody: true })),
      );
      res.on('aborted', () => finish(new RequestError('unexpected EOF', { inBody: true })));
    });
    req.end();
  });
}

/** TLS without verifying the certificate, as the kubelet's probe transport (InsecureSkipVerify). */
function handshake(
  sock: net.Socket,
  servername: string | undefined,
  deadline: number,
  local: string,
): Promise<net.Socket> {
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
      if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
        fail(new RequestError(HTTP_ON_HTTPS, { httpOnHttps: true }));
      else fail(new RequestError(transportError(e, local)));
    };
    s.on('error', onError);
  });
}

/** A Node transport error in Go's words: `EOF`, `read tcp A->B: read: connection reset by peer`. */
function transportError(e: NodeJS.ErrnoException, local: string): string {
  // The peer closed: Go's reader sees EOF (Node: "socket hang up", or before the TLS handshake ended).
  if (e.message === 'socket hang up' || e.message.startsWith('Client network socket disconnected')) return 'EOF';
  if (e.syscall === 'read' || e.syscall === 'write')
    return `${e.syscall} tcp ${local}: ${e.syscall}: ${errnoText(e.code, e.errno)}`;
  if (e.code?.startsWith('HPE_'))
    return `net/http: HTTP/1.x transport connection broken: malformed HTTP response (${e.message})`;
  if (e.code?.startsWith('ERR_SSL_')) return `tls: ${(e as { reason?: string }).reason ?? e.message}`;
  return e.message;
}
