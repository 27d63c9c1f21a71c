import http from 'node:http';
import http2 from 'node:http2';
import type { GRPCAction } from '../api/types.js';
import { goDuration } from '../kubectl/duration.js';
import { KUBE_VERSION, errorText } from './text.js';
import { goQuote } from '../kubectl/quote.js';
import { connect, joinHostPort } from './dial.js';
import type { HandlerResult, HandlerTarget } from './types.js';

/**
 * The grpc handler (a probe only): grpc.health.v1.Health/Check over plaintext HTTP/2 from the
 * pod, with the health protocol's protobuf written and read by hand, and grpc-go's wording.
 */

/** grpc.health.v1.HealthCheckResponse.ServingStatus names. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
/** google.golang.org/grpc/codes names, by number. */
const GRPC_CODES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

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
    } else if (wire === 5) i += 4;
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
  constructor(
    readonly code: number,
    readonly desc: string,
  ) {
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
export async function grpcProbe(g: GRPCAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const deadline = Date.now() + timeoutMs;
  const host = t.podIP;
  const addr = joinHostPort(host, g.port);
  const within = goDuration(timeoutMs / 1000);
  let session: http2.ClientHttp2Session | undefined;
  for (let backoff = 1000; ; backoff *= 1.6) {
    session = await h2Connect(t, host, g.port, deadline).catch(() => undefined);
    if (session) break;
    const wait = Math.min(backoff, deadline - Date.now());
    if (wait <= 0)
      return {
        ok: false,
        message: `timeout: failed to connect service ${goQuote(addr)} within ${within}: context deadline exceeded`,
      };
    await new Promise((r) => setTimeout(r, wait));
  }
  try {
    const status = await healthCheck(session, addr, g.service ?? '', deadline);
    if (status !== 1)
      return { ok: false, message: `service unhealthy (responded with ${goQuote(servingStatusName(status))})` };
    return { ok: true, message: 'service healthy' };
  } catch (e) {
    if (e instanceof RpcError) {
      if (e.code === 12)
        return {
          ok: false,
          message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${e.desc}`,
        };
      if (e.code === 4) return { ok: false, message: `timeout: health rpc did not complete within ${within}` };
    }
    return { ok: false, message: `error: health rpc probe failed: ${errorText(e)}` };
  } finally {
    session.destroy();
  }
}

/** An HTTP/2 session over a connection from the pod, ready once the server's SETTINGS came. */
async function h2Connect(
  t: HandlerTarget,
  host: string,
  port: number,
  deadline: number,
): Promise<http2.ClientHttp2Session> {
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
      session.on('error', () => {
        /* reported by the stream */
      });
      resolve(session);
    });
    const onClose = () => fail(new Error('connection closed before server preface received'));
    session.once('error', fail);
    session.once('close', onClose);
  });
}

/** One Health/Check call; the ServingStatus, or an RpcError (DeadlineExceeded at the deadline). */
function healthCheck(
  session: http2.ClientHttp2Session,
  authority: string,
  service: string,
  deadline: number,
): Promise<number> {
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
    const timer = setTimeout(
      () =>
        settle(() => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(new RpcError(4, 'context deadline exceeded'));
        }),
      remaining,
    );
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('trailers', (h) => {
      trailers = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e) => settle(() => reject(new RpcError(14, errorText(e)))));
    stream.on('close', () =>
      settle(() => {
        try {
          resolve(rpcResult(headers, trailers, Buffer.concat(chunks), stream.rstCode));
        } catch (e) {
          reject(e);
        }
      }),
    );
    stream.end(encodeHealthCheckRequest(service));
  });
}

/** The call's outcome from what the server sent (gRPC over HTTP/2: status in the trailers). */
function rpcResult(
  headers: http2.IncomingHttpHeaders,
  trailers: http2.IncomingHttpHeaders | undefined,
  body: Buffer,
  rstCode: number | undefined,
): number {
  const httpStatus = Number(headers[':status'] ?? 0);
  if (httpStatus && httpStatus !== 200) {
    throw new RpcError(
      codeForHttpStatus(httpStatus),
      `unexpected HTTP status code received from server: ${httpStatus} (${http.STATUS_CODES[httpStatus] ?? ''})`,
    );
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
    try {
      desc = decodeURIComponent(raw);
    } catch {
      /* as sent */
    }
    throw new RpcError(Number(code), desc);
  }
  try {
    return decodeHealthCheckResponse(body);
  } catch (e) {
    throw new RpcError(13, errorText(e));
  }
}
