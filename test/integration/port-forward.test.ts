import { describe, it, expect } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { ResultPromise } from 'execa';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { cli, until } from '../helpers/cli.js';

const c = podTestHome();

// busybox httpd on the pod's port 80, Ready once it listens.
const WEB = box(
  'web',
  'mkdir -p /www && echo "hello from $HOSTNAME" > /www/index.html && exec httpd -f -p 80 -h /www',
  {
    readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
  },
);

async function runWeb(name: string): Promise<string> {
  const r = await c.run(['run', '-d', '-'], { input: pod(name, { containers: [WEB] }) });
  expect(r.stderr).toBe('');
  const w = await c.run(['wait', name, '--for=condition=Ready', '--timeout=30s']);
  expect(w.stdout).toBe(`pod/${name} condition met`);
  return JSON.parse((await c.run(['get', name, '-o', 'json'])).stdout).metadata.uid;
}

/** port-forward started, with what it has printed so far. */
function portForward(args: string[]): { p: ResultPromise; out: () => string; err: () => string } {
  const p = c.spawn(['port-forward', ...args]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { p, out: () => out, err: () => err };
}

/** The local port of the `Forwarding from HOST:PORT -> remote` line. */
async function forwarded(out: () => string, host: string, remote: number): Promise<number> {
  const re = new RegExp(`^Forwarding from ${host.replace(/[[\].]/g, '\\$&')}:(\\d+) -> ${remote}$`, 'm');
  return Number(await until(`port-forward to ${remote}`, () => re.exec(out())?.[1]));
}

function get(port: number, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path: '/index.html', agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

/** What a raw connection receives before it is closed. */
function drain(port: number, send = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(send));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

/** A port free on 127.0.0.1 and ::1 a moment ago. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('podbox port-forward', () => {
  it("a pod with a network of its own (pasta), and a hostNetwork pod (the host's loopback)", async () => {
    const withPasta = cli(c.home, { PODBOX_NETWORK: 'pasta' });
    expect((await withPasta.run(['run', '-d', '-'], { input: pod('pfnet', { containers: [WEB] }) })).stderr).toBe('');
    const port = await freePort();
    const host = box(
      'web',
      `mkdir -p /www && echo on the host > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`,
      {
        readinessProbe: { tcpSocket: { host: '127.0.0.1', port }, periodSeconds: 1 },
      },
    );
    const hostNet = await c.run(['run', '-d', '-'], {
      input: pod('pfhost', { hostNetwork: true, containers: [host] }),
    });
    expect(hostNet.stderr).toBe('');
    for (const name of ['pfnet', 'pfhost']) {
      const w = await c.run(['wait', name, '--for=condition=Ready', '--timeout=30s']);
      const d = w.exitCode ? (await c.run(['describe', name])).stdout : '';
      expect([w.stdout, w.stderr, d]).toEqual([`pod/${name} condition met`, '', '']);
    }
    const f = portForward(['pfnet', ':80']);
    expect(await get(await forwarded(f.out, '127.0.0.1', 80))).toEqual({ status: 200, body: 'hello from pfnet\n' });
    const h = portForward(['pfhost', `:${port}`, '--address', '127.0.0.1']);
    expect(await get(await forwarded(h.out, '127.0.0.1', port))).toEqual({ status: 200, body: 'on the host\n' });
    for (const x of [f, h]) x.p.kill('SIGINT');
    expect([(await f.p).exitCode, (await h.p).exitCode]).toEqual([0, 0]);
  });

  it(':REMOTE: a random local port on 127.0.0.1 and ::1, two connections at once, SIGINT ends it with 0', async () => {
    await runWeb('pf');
    const f = portForward(['pf', ':80']);
    const port = await forwarded(f.out, '127.0.0.1', 80);
    expect(await forwarded(f.out, '[::1]', 80)).toBe(port);
    expect(await get(port)).toEqual({ status: 200, body: 'hello from pf\n' });
    expect(await get(port, '::1')).toEqual({ status: 200, body: 'hello from pf\n' });
    // Two connections open at once, each answered.
    const request = 'GET /index.html HTTP/1.0\r\n\r\n';
    const [a, b] = await Promise.all([drain(port, request), drain(port, request)]);
    for (const r of [a, b]) expect(r).toMatch(/^HTTP\/1\.[01] 200 OK\r\n[\s\S]*\r\n\r\nhello from pf\n$/);
    await until('four connections handled', () => f.out().split(`Handling connection for ${port}\n`).length === 5);
    f.p.kill('SIGINT');
    const r = await f.p;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      `Forwarding from 127.0.0.1:${port} -> 80\nForwarding from [::1]:${port} -> 80\n` +
        `Handling connection for ${port}\n`.repeat(4).trimEnd(),
    );
    expect(r.stderr).toBe('');
  });

  it('pod/NAME LOCAL:REMOTE; no listener: the runtime error, then lost connection, as kubectl', async () => {
    const uid = await runWeb('pf2');
    const [local, none] = [await freePort(), await freePort()];
    const f = portForward(['pod/pf2', `${local}:80`, `${none}:81`, '--address', '127.0.0.1']);
    expect(await forwarded(f.out, '127.0.0.1', 80)).toBe(local);
    expect(await forwarded(f.out, '127.0.0.1', 81)).toBe(none);
    expect(await get(local)).toEqual({ status: 200, body: 'hello from pf2\n' });
    // Nothing listens on 81: the error line, the client closed, and (client-go closes its stream
    // connection after a forwarding error) the end: lost connection, exit 1.
    expect(await drain(none, 'GET / HTTP/1.0\r\n\r\n')).toBe('');
    const r = await f.p;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toBe(
      `an error occurred forwarding ${none} -> 81: error forwarding port 81 to pod pf2, uid ${uid}: failed to ` +
        "connect to localhost:81 inside the pod's network namespace, IPv4: dial tcp4 127.0.0.1:81: connect: " +
        'connection refused IPv6 dial tcp6 [::1]:81: connect: connection refused\n' +
        'podbox: lost connection to pod "pf2": see `podbox get pf2`',
    );
  });

  it('the pod ending ends it: lost connection, exit 1', async () => {
    await runWeb('pf3');
    const local = await freePort();
    const f = portForward(['pf3', `${local}:80`, '--address', '127.0.0.1']);
    expect(await forwarded(f.out, '127.0.0.1', 80)).toBe(local);
    expect((await c.run(['delete', 'pf3', '--now'])).exitCode).toBe(0);
    const r = await f.p;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toBe('podbox: lost connection to pod "pf3": see `podbox get pf3`');
  });

  it("refuses a pod that is not running, and bad ports, in kubectl's words", async () => {
    const done = await c.run(['run', '--keep', '-'], {
      input: pod('pfdone', { restartPolicy: 'Never', containers: [box('c', 'true')] }),
    });
    expect(done.exitCode).toBe(0);
    expect(await c.run(['port-forward', 'pfdone', '8080:80'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'podbox: unable to forward port because pod "pfdone" is not running. Current status=Succeeded: ' +
        'see `podbox describe pfdone`',
    });
    await runWeb('pf3');
    const bad = async (port: string) => (await c.run(['port-forward', 'pf3', port])).stderr;
    expect(await bad('8080:http')).toBe(
      "podbox: Pod 'pf3' does not have a named port 'http': see `podbox port-forward --help`",
    );
    expect(await bad('x:80')).toBe(
      'podbox: error parsing local port \'x\': strconv.ParseUint: parsing "x": invalid syntax: ' +
        'see `podbox port-forward --help`',
    );
    expect(await bad('8080:0')).toBe('podbox: remote port must be > 0: see `podbox port-forward --help`');
    expect(await bad('1:2:3')).toBe("podbox: invalid port format '1:2:3': see `podbox port-forward --help`");
    // SIGTERM, which kubectl does not catch: everything closed, and the status of a process it ended.
    const f = portForward(['pf3', ':80']);
    await forwarded(f.out, '127.0.0.1', 80);
    f.p.kill('SIGTERM');
    const t = await f.p;
    expect([t.exitCode, t.signal, t.stderr]).toEqual([143, undefined, '']);
    expect((await c.run(['port-forward', 'svc/pf3', '80'])).stderr).toBe(
      'podbox: cannot forward to "svc/pf3": podbox runs pods only: give POD or pod/POD',
    );
  });
});
