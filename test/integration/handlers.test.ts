import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execa } from 'execa';
import { chmodSync, closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';
import { runProbe, runHook, hookFailureMessage } from '../../src/probe/run.js';
import { KUBE_VERSION } from '../../src/probe/text.js';
import type { HandlerTarget } from '../../src/probe/types.js';
import { Runc } from '../../src/container/runc.js';
import { native } from '../../src/sandbox/native.js';
import { waitForExit } from '../../src/sandbox/sandbox.js';
import type { Container, Probe } from '../../src/api/types.js';
import { devNullFd } from '../../src/host/pipes.js';

const c = podTestHome();

/**
 * Starts a one-container pod with `podbox run -d` and returns what the supervisor would hand the
 * handlers: pause's pid and runc from status.json, the defaulted container from pod.json.
 */
async function startPod(name: string, script: string, extra: Record<string, unknown> = {}): Promise<HandlerTarget> {
  const r = await c.run(['run', '-d', '-'], { input: pod(name, { containers: [box('web', script, extra)] }) });
  expect(r.stderr).toBe('');
  const dir = join(c.home, 'pods', name);
  const runtime = await until(`pod ${name} running`, () => {
    try {
      const rt = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).runtime;
      return rt.pause?.pid && rt.containers.web?.pid !== undefined
        ? (rt as { pause: { pid: number }; containers: Record<string, { instance: number }> })
        : undefined;
    } catch {
      return undefined;
    }
  });
  await until(
    `container of pod ${name} created`,
    async () => (await c.run(['exec', name, '--', 'true'])).exitCode === 0,
  );
  const container = (JSON.parse(readFileSync(join(dir, 'pod.json'), 'utf8')).pod.spec.containers as Container[])[0]!;
  return {
    pausePid: runtime.pause.pid,
    runc: new Runc(runtime.pause.pid, join(dir, 'runc')),
    containerId: `web.${runtime.containers.web!.instance}`,
    container,
    podIP: '127.0.0.1',
  };
}

/** Waits until `url` answers inside the pod (busybox wget through `podbox exec`, not the code under test). */
async function serving(name: string, url: string): Promise<void> {
  await until(
    `${url} in pod ${name}`,
    async () => (await c.run(['exec', name, '--', 'wget', '-q', '-O', '/dev/null', url])).exitCode === 0,
  );
}

const probe = (handler: Partial<Probe>, timeoutSeconds = 1): Probe => ({
  initialDelaySeconds: 0,
  timeoutSeconds,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
  ...handler,
});

const HTTPD = 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 127.0.0.1:$PORT -h /www';

describe("httpGet and tcpSocket connect from inside the pod's network namespace", () => {
  it("reach an httpd bound to the pod's 127.0.0.1, not the host's", async () => {
    // The host listens on the same port: a probe that dialled from the host would get its 500.
    let hostRequests = 0;
    const host = http.createServer((_, res) => {
      hostRequests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as AddressInfo).port;
    try {
      const t = await startPod('web', HTTPD.replace('$PORT', String(port)), {
        ports: [{ name: 'http', containerPort: port }],
      });
      await serving('web', `http://127.0.0.1:${port}/`);
      const closed = port === 65535 ? port - 1 : port + 1;

      expect(await runProbe(probe({ httpGet: { path: '/index.html', port, scheme: 'HTTP' } }), t)).toEqual({
        ok: true,
        message: 'hello\n',
        output: 'hello\n',
      });
      expect((await runProbe(probe({ httpGet: { path: '/', port: 'http', scheme: 'HTTP' } }), t)).ok).toBe(true);
      const missing = await runProbe(probe({ httpGet: { path: '/missing', port, scheme: 'HTTP' } }), t);
      expect([missing.ok, missing.message]).toEqual([false, 'HTTP probe failed with statuscode: 404']);
      expect(await runProbe(probe({ httpGet: { path: '/healthz', port: closed, scheme: 'HTTP' } }), t)).toEqual({
        ok: false,
        message: `Get "http://127.0.0.1:${closed}/healthz": dial tcp 127.0.0.1:${closed}: connect: connection refused`,
      });
      expect(await runProbe(probe({ httpGet: { path: '/', port, scheme: 'HTTPS' } }), t)).toEqual({
        ok: false,
        message: `Get "https://127.0.0.1:${port}/": http: server gave HTTP response to HTTPS client`,
      });
      // A host name is resolved on the host (as the kubelet does); localhost is then the pod's loopback.
      expect((await runProbe(probe({ httpGet: { path: '/', host: 'localhost', port, scheme: 'HTTP' } }), t)).ok).toBe(
        true,
      );

      expect(await runProbe(probe({ tcpSocket: { port } }), t)).toEqual({ ok: true, message: '' });
      expect(await runProbe(probe({ tcpSocket: { port: 'http' } }), t)).toEqual({ ok: true, message: '' });
      expect(await runProbe(probe({ tcpSocket: { port: closed } }), t)).toEqual({
        ok: false,
        message: `dial tcp 127.0.0.1:${closed}: connect: connection refused`,
      });

      expect(hostRequests).toBe(0);
    } finally {
      await new Promise((r) => host.close(r));
    }
  });
});

describe('exec runs the command in the container with runc exec', () => {
  it('exit 0 succeeds, other exits fail with the output, a timeout kills the command', async () => {
    const t = await startPod('ex', 'exec sleep 3600', { env: [{ name: 'GREETING', value: 'hi' }] });
    const exec = (command: string[], timeoutSeconds = 1) => runProbe(probe({ exec: { command } }, timeoutSeconds), t);

    // stdout first, then stderr, as the kubelet joins what ExecSync returns; $(VAR) from env.
    expect(await exec(['sh', '-c', 'echo to-stderr >&2; echo $(GREETING) from $0'])).toEqual({
      ok: true,
      message: 'hi from sh\nto-stderr\n',
      output: 'hi from sh\nto-stderr\n',
    });
    expect(await exec(['sh', '-c', 'echo not ready; exit 3'])).toEqual({
      ok: false,
      message: 'not ready\n',
      output: 'not ready\n',
    });
    const big = await exec(['sh', '-c', 'head -c 20000 /dev/zero | tr "\\0" x']);
    expect([big.ok, big.output]).toEqual([true, 'x'.repeat(10240)]);
    expect(await exec(['no-such-command'])).toEqual({
      ok: false,
      message:
        'exec failed: unable to start container process: exec: "no-such-command": executable file not found in $PATH',
    });

    const started = Date.now();
    expect(await exec(['sh', '-c', 'echo waiting; exec sleep 30'])).toEqual({
      ok: false,
      message: 'command "sh -c echo waiting; exec sleep 30" timed out',
      output: 'waiting\n',
    });
    expect(Date.now() - started).toBeLessThan(5000);
    // killed, not left running in the container
    const ps = await c.run(['exec', 'ex', '--', 'ps', '-o', 'args']);
    expect(ps.stdout.split('\n').map((l) => l.trim())).toEqual(['COMMAND', 'sleep 3600', 'ps -o args']);
  });
});

/**
 * A grpc health server and HTTP servers in the pod's network namespace: Node, spawned by the
 * addon into pause's user and network namespaces (busybox has neither gRPC nor TLS). They listen
 * on the pod's 127.0.0.1 only, so the probes reach them only from inside the pod.
 */
const SERVERS = String.raw`
const http = require('http'), https = require('https'), http2 = require('http2'), fs = require('fs');
const pages = (req, res) => {
  const u = req.url;
  if (u.startsWith('/echo')) return res.end(JSON.stringify({ url: u, headers: req.rawHeaders }));
  if (u === '/redirect') return res.writeHead(302, { Location: '/echo?via=redirect' }).end();
  if (u === '/away') return res.writeHead(302, { Location: 'http://elsewhere.invalid/' }).end('moved');
  if (u === '/loop') return res.writeHead(302, { Location: '/loop' }).end();
  if (u === '/big') return res.end('y'.repeat(20000));
  if (u === '/fail') return res.writeHead(500).end('broken');
  if (u === '/slow') return;
  if (u === '/slow-body') return res.writeHead(200).write('partial');
  res.writeHead(404).end();
};
const grpc = http2.createServer();
grpc.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const m = Buffer.concat(chunks).subarray(5);
    const service = m.length ? m.subarray(2, 2 + m[1]).toString() : '';
    const only = (code, msg) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(msg) }, { endStream: true });
    if (headers[':path'] !== '/grpc.health.v1.Health/Check' || service === 'unimplemented') return only(12, 'unknown service grpc.health.v1.Health');
    if (service === 'slow') return;
    if (service === 'gone') return only(5, 'unknown service');
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, service === 'down' ? 2 : 1]));
  });
});
const tls = { cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]) };
let listening = 0;
const up = () => { if (++listening === 3) process.stdout.write('ready\n'); };
grpc.listen(9090, '127.0.0.1', up);
http.createServer(pages).listen(8081, '127.0.0.1', up);
https.createServer(tls, pages).listen(8443, '127.0.0.1', up);
`;

describe("grpc and HTTP servers in the pod's network namespace", () => {
  let certDir = '';
  beforeAll(async () => {
    // A throwaway self-signed certificate: the probe must not verify it, as the kubelet does not.
    certDir = mkdtempSync(join(tmpdir(), 'podbox-handlers-'));
    chmodSync(certDir, 0o755);
    await execa('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=podbox-test',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ]);
    for (const f of ['key.pem', 'cert.pem']) chmodSync(join(certDir, f), 0o644);
  });
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  /** Runs SERVERS in the pod's user and network namespaces; resolves once they listen. */
  async function startServers(pausePid: number): Promise<{ stop(): Promise<void> }> {
    const script = join(certDir, 'servers.cjs');
    writeFileSync(script, SERVERS, { mode: 0o644 });
    const [r, w] = native().pipe();
    let pid: number;
    try {
      pid = native().spawnInNamespaces({
        pid: pausePid,
        namespaces: ['user', 'net'],
        argv: [process.execPath, script, join(certDir, 'cert.pem'), join(certDir, 'key.pem')],
        env: [],
        stdio: [devNullFd(), w, 2],
        dieWithParent: true,
      });
    } finally {
      closeSync(w);
    }
    let gone = false;
    const exited = waitForExit(pid).then(() => {
      gone = true;
    });
    const out = new net.Socket({ fd: r, readable: true, writable: false });
    let said = '';
    out.on('data', (d: Buffer) => {
      said += d;
    });
    await until('the servers in the pod', () => {
      if (gone) throw new Error('the servers exited');
      return said.includes('ready');
    });
    out.destroy();
    return {
      async stop() {
        process.kill(pid, 'SIGKILL');
        await exited;
      },
    };
  }

  it("grpc: SERVING only is success; the kubelet's messages for the rest", async () => {
    const t = await startPod('grpc', 'exec sleep 3600');
    const servers = await startServers(t.pausePid);
    try {
      const grpc = (service?: string, port = 9090) => runProbe(probe({ grpc: { port, service } }), t);
      expect(await grpc()).toEqual({ ok: true, message: 'service healthy' });
      expect(await grpc('down')).toEqual({ ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
      expect(await grpc('gone')).toEqual({
        ok: false,
        message: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
      });
      expect(await grpc('unimplemented')).toEqual({
        ok: false,
        message:
          'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health',
      });
      expect(await grpc('slow')).toEqual({ ok: false, message: 'timeout: health rpc did not complete within 1s' });
      // grpc.WithBlock: a refused connection is retried until the timeout
      const started = Date.now();
      expect(await grpc('', 9091)).toEqual({
        ok: false,
        message: 'timeout: failed to connect service "127.0.0.1:9091" within 1s: context deadline exceeded',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(990);
      // an HTTP/1 server never sends HTTP/2 SETTINGS: no connection either
      expect(await grpc('', 8081)).toEqual({
        ok: false,
        message: 'timeout: failed to connect service "127.0.0.1:8081" within 1s: context deadline exceeded',
      });
    } finally {
      await servers.stop();
    }
  });

  it('httpGet: headers as the kubelet sends them, HTTPS unverified, redirects, body cap, timeouts', async () => {
    const t = await startPod('http', 'exec sleep 3600');
    const servers = await startServers(t.pausePid);
    try {
      const get = (
        path: string,
        o: { scheme?: 'HTTP' | 'HTTPS'; port?: number; httpHeaders?: { name: string; value: string }[] } = {},
      ) =>
        runProbe(
          probe({
            httpGet: {
              path,
              port: o.port ?? (o.scheme === 'HTTPS' ? 8443 : 8081),
              scheme: o.scheme ?? 'HTTP',
              httpHeaders: o.httpHeaders,
            },
          }),
          t,
        );
      const echoed = (r: { output?: string }) => JSON.parse(r.output!) as { url: string; headers: string[] };

      const plain = await get('/echo');
      expect(plain.ok).toBe(true);
      expect(echoed(plain).headers).toEqual([
        'Host',
        '127.0.0.1:8081',
        'User-Agent',
        `kube-probe/${KUBE_VERSION}`,
        'Accept',
        '*/*',
        'Connection',
        'close',
      ]);
      const custom = await get('/echo?q=1', {
        scheme: 'HTTPS',
        httpHeaders: [
          { name: 'x-probe', value: 'a' },
          { name: 'X-Probe', value: 'b' },
          { name: 'Host', value: 'app.example' },
          { name: 'Accept', value: '' },
        ],
      });
      expect(echoed(custom)).toEqual({
        url: '/echo?q=1',
        headers: [
          'Host',
          'app.example',
          'X-Probe',
          'a',
          'X-Probe',
          'b',
          'User-Agent',
          `kube-probe/${KUBE_VERSION}`,
          'Connection',
          'close',
        ],
      });

      expect(echoed(await get('/redirect')).url).toBe('/echo?via=redirect');
      expect(await get('/away')).toEqual({
        ok: true,
        warning: true,
        message: 'Probe terminated redirects, Response body: moved',
        output: 'moved',
      });
      expect(await get('/loop')).toEqual({ ok: false, message: 'Get "/loop": stopped after 10 redirects' });
      expect((await get('/big', { scheme: 'HTTPS' })).output).toBe('y'.repeat(10240));
      expect(await get('/fail')).toEqual({
        ok: false,
        message: 'HTTP probe failed with statuscode: 500',
        output: 'broken',
      });
      expect(await get('/slow')).toEqual({
        ok: false,
        message:
          'Get "http://127.0.0.1:8081/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
      });
      expect(await get('/slow-body')).toEqual({
        ok: false,
        message: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)',
      });
    } finally {
      await servers.stop();
    }
  });
});

describe('lifecycle hooks', () => {
  it('exec, httpGet (any status is success; HTTPS falls back to HTTP) and sleep', async () => {
    const t = await startPod('hooks', HTTPD.replace('$PORT', '8080'));
    await serving('hooks', 'http://127.0.0.1:8080/');

    expect(await runHook({ exec: { command: ['sh', '-c', 'touch /tmp/started'] } }, t, 5)).toEqual({
      ok: true,
      message: '',
      output: '',
    });
    expect((await c.run(['exec', 'hooks', '--', 'ls', '/tmp/started'])).stdout).toBe('/tmp/started');
    const failed = await runHook({ exec: { command: ['sh', '-c', 'echo out; echo err >&2; exit 2'] } }, t, 5);
    expect(failed).toEqual({
      ok: false,
      message: "command 'sh -c echo out; echo err >&2; exit 2' exited with 2: err\n",
      output: 'out\nerr\n',
    });
    expect(
      hookFailureMessage(
        { exec: { command: ['sh', '-c', 'echo out; echo err >&2; exit 2'] } },
        'web',
        'hooks_default(uid)',
        failed,
      ),
    ).toBe(
      'Exec lifecycle hook ([sh -c echo out; echo err >&2; exit 2]) for Container "web" in Pod "hooks_default(uid)" failed - error: command \'sh -c echo out; echo err >&2; exit 2\' exited with 2: err\n, message: "out\\nerr\\n"',
    );
    expect(await runHook({ exec: { command: ['sleep', '30'] } }, t, 1)).toEqual({
      ok: false,
      message: 'command "sleep 30" timed out',
      output: '',
    });

    expect((await runHook({ httpGet: { path: '/missing', port: 8080, scheme: 'HTTP' } }, t, 5)).ok).toBe(true);
    expect(await runHook({ httpGet: { path: '/', port: 8080, scheme: 'HTTPS' } }, t, 5)).toEqual({
      ok: true,
      warning: true,
      message: 'request to HTTPS lifecycle hook 127.0.0.1:8080 got HTTP response, retry with HTTP succeeded',
      output: 'hello\n',
    });
    expect(await runHook({ httpGet: { path: '/stop', port: 8089, scheme: 'HTTP' } }, t, 5)).toEqual({
      ok: false,
      message: 'Get "http://127.0.0.1:8089/stop": dial tcp 127.0.0.1:8089: connect: connection refused',
    });

    const started = Date.now();
    expect(await runHook({ sleep: { seconds: 1 } }, t, 5)).toEqual({ ok: true, message: '' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });
});
