import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { resolveProbePort, resolveHookPort } from '../../src/probe/ports.js';
import { probeHeaders, probeURL, canonicalHeaderName } from '../../src/probe/http.js';
import { joinHostPort } from '../../src/probe/dial.js';
import { goQuote } from '../../src/kubectl/quote.js';
import {
  encodeHealthCheckRequest,
  decodeHealthCheckResponse,
  servingStatusName,
  grpcCodeName,
} from '../../src/probe/grpc.js';
import { hookFailureMessage, runProbe, runHook } from '../../src/probe/run.js';
import { KUBE_VERSION } from '../../src/probe/text.js';
import type { HandlerTarget } from '../../src/probe/types.js';
import type { HTTPGetAction, Probe } from '../../src/api/types.js';
import { container } from '../helpers/fixtures.js';

const web = container('web', {
  ports: [
    { name: 'http', containerPort: 8080, protocol: 'TCP' },
    { name: 'grpc', containerPort: 9090, protocol: 'TCP' },
  ],
});
const get = (extra: Partial<HTTPGetAction> = {}): HTTPGetAction => ({
  path: '/healthz',
  port: 8080,
  scheme: 'HTTP',
  ...extra,
});

describe('ports (pkg/probe/util.go, lifecycle/handlers.go resolvePort)', () => {
  it('a probe port is a number, a port name, or a number written as a string', () => {
    expect(resolveProbePort(8081, web)).toBe(8081);
    expect(resolveProbePort('http', web)).toBe(8080);
    expect(resolveProbePort('9000', web)).toBe(9000);
    expect(() => resolveProbePort('nope', web)).toThrow('strconv.Atoi: parsing "nope": invalid syntax');
    expect(() => resolveProbePort(0, web)).toThrow('invalid port number: 0');
    expect(() => resolveProbePort('70000', web)).toThrow('invalid port number: 70000');
  });

  it('a hook port tries the number first, then the name', () => {
    expect(resolveHookPort('grpc', web)).toBe(9090);
    expect(resolveHookPort('7', web)).toBe(7);
    expect(() => resolveHookPort('nope', web)).toThrow('couldn\'t find port: nope in container "web"');
  });
});

describe('the request (pkg/probe/http/request.go)', () => {
  it("defaults User-Agent and Accept, keeps httpHeaders in order with Go's canonical names", () => {
    expect(probeHeaders(get(), 'probe')).toEqual({
      headers: { 'User-Agent': [`kube-probe/${KUBE_VERSION}`], Accept: ['*/*'] },
      host: undefined,
    });
    expect(probeHeaders(get(), 'lifecycle').headers['User-Agent']).toEqual([`kube-lifecycle/${KUBE_VERSION}`]);
    const h = probeHeaders(
      get({
        httpHeaders: [
          { name: 'x-custom-header', value: 'a' },
          { name: 'X-Custom-Header', value: 'b' },
          { name: 'user-agent', value: 'mine' },
          { name: 'accept', value: 'text/plain' },
        ],
      }),
      'probe',
    );
    expect(h.headers).toEqual({ 'X-Custom-Header': ['a', 'b'], 'User-Agent': ['mine'], Accept: ['text/plain'] });
  });

  it('an empty Accept or User-Agent removes it; Host becomes the Host header, not a header entry', () => {
    const h = probeHeaders(
      get({
        httpHeaders: [
          { name: 'Accept', value: '' },
          { name: 'User-Agent', value: '' },
          { name: 'host', value: 'example.com' },
        ],
      }),
      'probe',
    );
    expect(h).toEqual({ headers: {}, host: 'example.com' });
  });

  it("canonical header names as Go's textproto", () => {
    expect(canonicalHeaderName('content-TYPE')).toBe('Content-Type');
    expect(canonicalHeaderName('x-b3-traceid')).toBe('X-B3-Traceid');
    expect(canonicalHeaderName('bad header')).toBe('bad header');
  });

  it('the URL: scheme, host:port (IPv6 in brackets), the path with its query', () => {
    expect(probeURL(get(), '127.0.0.1', 8080).href).toBe('http://127.0.0.1:8080/healthz');
    expect(probeURL(get({ scheme: 'HTTPS', path: 'ready?full=1' }), '::1', 8443).href).toBe(
      'https://[::1]:8443/ready?full=1',
    );
    expect(joinHostPort('fd00::1', 80)).toBe('[fd00::1]:80');
  });
});

describe("Go's wording", () => {
  it('quotes as %q', () => {
    expect(goQuote('sh -c echo "hi"')).toBe('"sh -c echo \\"hi\\""');
    expect(goQuote('a\nb\tc\\\x01\x7f é')).toBe('"a\\nb\\tc\\\\\\x01\\x7f é"');
  });

  it('names gRPC codes and serving statuses', () => {
    expect(grpcCodeName(5)).toBe('NotFound');
    expect(grpcCodeName(16)).toBe('Unauthenticated');
    expect(grpcCodeName(42)).toBe('Code(42)');
    expect([0, 1, 2, 3, 7].map(servingStatusName)).toEqual([
      'UNKNOWN',
      'SERVING',
      'NOT_SERVING',
      'SERVICE_UNKNOWN',
      '7',
    ]);
  });

  it('hook failure events as handlers.go words them', () => {
    const pod = 'web_default(1111-2222)';
    expect(
      hookFailureMessage({ exec: { command: ['sh', '-c', 'exit 3'] } }, 'web', pod, {
        ok: false,
        message: "command 'sh -c exit 3' exited with 3: ",
        output: 'oops\n',
      }),
    ).toBe(
      'Exec lifecycle hook ([sh -c exit 3]) for Container "web" in Pod "web_default(1111-2222)" failed - error: command \'sh -c exit 3\' exited with 3: , message: "oops\\n"',
    );
    expect(
      hookFailureMessage({ httpGet: get({ path: '/stop' }) }, 'web', pod, {
        ok: false,
        message: 'Get "http://127.0.0.1:8080/stop": EOF',
      }),
    ).toBe(
      'HTTP lifecycle hook (/stop) for Container "web" in Pod "web_default(1111-2222)" failed - error: Get "http://127.0.0.1:8080/stop": EOF',
    );
    expect(
      hookFailureMessage({ sleep: { seconds: 5 } }, 'web', pod, {
        ok: false,
        message: 'container terminated before sleep hook finished',
      }),
    ).toBe(
      'Sleep lifecycle hook (5) for Container "web" in Pod "web_default(1111-2222)" failed - error: container terminated before sleep hook finished',
    );
  });
});

describe('grpc.health.v1 in protobuf', () => {
  it('encodes HealthCheckRequest in a gRPC frame; the empty service is an empty message', () => {
    expect(encodeHealthCheckRequest('')).toEqual(Buffer.from([0, 0, 0, 0, 0]));
    expect(encodeHealthCheckRequest('db')).toEqual(Buffer.from([0, 0, 0, 0, 4, 0x0a, 2, 0x64, 0x62]));
    const long = encodeHealthCheckRequest('s'.repeat(200));
    expect([...long.subarray(0, 8)]).toEqual([0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
  });

  it('decodes the status field, skipping unknown fields; an empty message is UNKNOWN', () => {
    const frame = (...bytes: number[]) => Buffer.from([0, 0, 0, 0, bytes.length, ...bytes]);
    expect(decodeHealthCheckResponse(frame(0x08, 1))).toBe(1);
    expect(decodeHealthCheckResponse(frame())).toBe(0);
    // field 2 (a string) and field 3 (fixed32) before the status
    expect(decodeHealthCheckResponse(frame(0x12, 2, 0x61, 0x62, 0x1d, 1, 2, 3, 4, 0x08, 2))).toBe(2);
    // a negative enum takes ten bytes
    expect(decodeHealthCheckResponse(frame(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))).toBe(-1);
    expect(() => decodeHealthCheckResponse(Buffer.from([1, 0, 0, 0, 0]))).toThrow(
      'grpc: compressed flag set with identity or empty encoding',
    );
    expect(() => decodeHealthCheckResponse(frame(0x08))).toThrow('proto: bad varint');
  });
});

/**
 * The gRPC client against an HTTP/2 server in this process, through the `dial` seam (a plain
 * host connection): the answers a health server can give that the in-pod test does not cover.
 * The pod path itself is in test/integration/handlers.test.ts.
 */
describe('the grpc probe against a local HTTP/2 server', () => {
  let server: http2.Http2Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  async function serve(
    answer: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void,
  ): Promise<number> {
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => answer(stream, headers, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }
  const target = (): HandlerTarget => ({
    pausePid: 0,
    runc: undefined as never,
    containerId: 'web.0',
    container: web,
    podIP: '127.0.0.1',
    dial: (ip, port) => net.connect(port, ip),
  });
  const grpc = (port: number, service?: string): Probe => ({
    grpc: { port, service },
    timeoutSeconds: 1,
    initialDelaySeconds: 0,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });

  it('sends Health/Check with the service and reads the status from the response', async () => {
    let seen: http2.IncomingHttpHeaders = {};
    let request: Buffer = Buffer.alloc(0);
    const port = await serve((stream, headers, body) => {
      seen = headers;
      request = body;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 3]));
    });
    expect(await runProbe(grpc(port, 'db'), target())).toEqual({
      ok: false,
      message: 'service unhealthy (responded with "SERVICE_UNKNOWN")',
    });
    expect(request).toEqual(encodeHealthCheckRequest('db'));
    expect(seen).toMatchObject({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      ':authority': `127.0.0.1:${port}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': `kube-probe/${KUBE_VERSION}`,
    });
    expect(seen['grpc-timeout']).toMatch(/^\d+m$/);
  });

  it('a non-200 HTTP status is a gRPC error as grpc-go maps it; grpc-message is percent-decoded', async () => {
    const notFound = await serve((stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    expect(await runProbe(grpc(notFound), target())).toEqual({
      ok: false,
      message:
        'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unexpected HTTP status code received from server: 404 (Not Found)',
    });
    await new Promise((r) => server!.close(r));
    const denied = await serve((stream) =>
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'no%20entry' },
        { endStream: true },
      ),
    );
    expect(await runProbe(grpc(denied), target())).toEqual({
      ok: false,
      message: 'error: health rpc probe failed: rpc error: code = PermissionDenied desc = no entry',
    });
  });

  it('a stream that ends without trailers is Internal', async () => {
    const port = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 1]));
    });
    expect(await runProbe(grpc(port), target())).toEqual({
      ok: false,
      message:
        'error: health rpc probe failed: rpc error: code = Internal desc = server closed the stream without sending trailers',
    });
  });
});

describe('the sleep hook', () => {
  const t = { container: web } as HandlerTarget;
  it('ends early when the container terminates, and is cut by the timeout', async () => {
    const stop = new AbortController();
    const sleeping = runHook({ sleep: { seconds: 30 } }, t, 30, stop.signal);
    stop.abort();
    expect(await sleeping).toEqual({ ok: false, message: 'container terminated before sleep hook finished' });
    expect(await runHook({ sleep: { seconds: 30 } }, t, 0.05)).toEqual({
      ok: false,
      message: 'sleep hook did not finish within 0.05s',
    });
    expect(await runHook({ sleep: { seconds: 0 } }, t, 30)).toEqual({ ok: true, message: '' });
  });

  it('tcpSocket is not a handler the kubelet runs', async () => {
    expect(await runHook({ tcpSocket: { port: 80 } }, t, 1)).toEqual({
      ok: false,
      message: 'Cannot run handler: invalid handler: tcpSocket is not supported as a lifecycle handler',
    });
  });
});
