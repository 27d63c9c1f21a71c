import { describe, it, expect, afterAll } from 'vitest';
import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { alive, cli, podRuntime, supervisorPid, until } from '../helpers/cli.js';
import { podDial } from '../../src/probe/dial.js';
import { native } from '../../src/sandbox/native.js';
import { waitForExit } from '../../src/sandbox/sandbox.js';
import { devNullFd } from '../../src/host/pipes.js';

// The node's resolv.conf, given through the testing knob: this machine's own file is not the test's.
const dir = mkdtempSync(join(tmpdir(), 'podbox-dns-'));
const HOST_FILE = join(dir, 'resolv.conf');
writeFileSync(HOST_FILE, '# the node\nsearch corp.example\nnameserver 192.0.2.53\noptions ndots:2 edns0\n');
const c = podTestHome({ PODBOX_TESTING_RESOLV_CONF: HOST_FILE });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pod's /etc/resolv.conf as its container reads it. */
async function resolvConfOf(name: string, spec: Record<string, unknown>): Promise<string> {
  const r = await c.run(['run', '-'], {
    input: pod(name, { restartPolicy: 'Never', containers: [box('c', 'cat /etc/resolv.conf')], ...spec }),
  });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

describe("each dnsPolicy's resolv.conf, in the pod", () => {
  it('Default: the node resolvers, rewritten as the kubelet and containerd do', async () => {
    expect(await resolvConfOf('dns-default', { dnsPolicy: 'Default' })).toBe(
      'c | search corp.example\nc | nameserver 192.0.2.53\nc | options ndots:2 edns0',
    );
  });

  it('ClusterFirst: the same, and describe says why (MissingClusterDNS)', async () => {
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('dns-cf', { restartPolicy: 'Never', containers: [box('c', 'cat /etc/resolv.conf')] }),
    });
    expect(r.stdout).toBe('c | search corp.example\nc | nameserver 192.0.2.53\nc | options ndots:2 edns0');
    const d = await c.run(['describe', 'dns-cf']);
    const event =
      'pod: "dns-cf_default\\([0-9a-f-]{36}\\)"\\. kubelet does not have ClusterDNS IP configured and cannot ' +
      'create Pod using "ClusterFirst" policy\\. Falling back to "Default" policy\\.';
    expect(d.stdout).toMatch(new RegExp(`\\n {2}Warning {2}MissingClusterDNS {2}\\d+s +kubelet +${event}\\n`));
  });

  it('None with dnsConfig: only what dnsConfig says', async () => {
    const dnsConfig = {
      nameservers: ['127.0.0.1', '2001:db8::53'],
      searches: ['svc.example'],
      options: [{ name: 'ndots', value: '1' }, { name: 'rotate' }],
    };
    expect(await resolvConfOf('dns-none', { dnsPolicy: 'None', dnsConfig })).toBe(
      'c | search svc.example\nc | nameserver 127.0.0.1\nc | nameserver 2001:db8::53\nc | options ndots:1 rotate',
    );
  });

  it('dnsConfig on Default: appended, its options winning by name', async () => {
    const dnsConfig = {
      nameservers: ['192.0.2.54'],
      searches: ['lab.example'],
      options: [{ name: 'ndots', value: '3' }],
    };
    expect(await resolvConfOf('dns-merge', { dnsPolicy: 'Default', dnsConfig })).toBe(
      'c | search corp.example lab.example\nc | nameserver 192.0.2.53\nc | nameserver 192.0.2.54\n' +
        'c | options ndots:3 edns0',
    );
  });

  it('dnsPolicy None without a nameserver is refused as the API server words it', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('dns-bad', {
        dnsPolicy: 'None',
        dnsConfig: { searches: ['a.example'] },
        containers: [box('c', 'true')],
      }),
    });
    expect(r).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'podbox: stdin: pod "dns-bad" is invalid: spec.dnsConfig.nameservers: Required value: must provide at least ' +
        'one DNS nameserver when `dnsPolicy` is None: give the address of a DNS server in spec.dnsConfig.nameservers',
    });
  });
});

// A DNS server of one A record (svc.podbox.test = 192.0.2.10; other names NXDOMAIN, other types of it no
// answer), on 127.0.0.1:53 of the namespace it runs in; prints "ready" once bound.
const DNS_SERVER = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (q, from) => {
  let i = 12; const labels = [];
  while (q[i]) { labels.push(q.subarray(i + 1, i + 1 + q[i]).toString()); i += q[i] + 1; }
  const qtype = q.readUInt16BE(i + 1);
  const question = q.subarray(12, i + 5);
  const known = labels.join('.').toLowerCase() === 'svc.podbox.test';
  const answer = known && qtype === 1
    ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10]) : Buffer.alloc(0);
  const header = Buffer.from([q[0], q[1], 0x81, known ? 0x80 : 0x83, 0, 1, 0, answer.length ? 1 : 0, 0, 0, 0, 0]);
  s.send(Buffer.concat([header, question, answer]), from.port, from.address);
});
s.bind(53, '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

/** Runs DNS_SERVER in the pod's user and network namespaces; resolves once it listens. */
async function startDnsServer(pausePid: number): Promise<{ stop(): Promise<void> }> {
  const script = join(dir, 'dns-server.cjs');
  writeFileSync(script, DNS_SERVER, { mode: 0o644 });
  const [r, w] = native().pipe();
  let pid: number;
  try {
    pid = native().spawnInNamespaces({
      pid: pausePid,
      namespaces: ['user', 'net'],
      argv: [process.execPath, script],
      env: [],
      stdio: [devNullFd(), w, 2],
      dieWithParent: true,
    });
  } finally {
    closeSync(w);
  }
  const exited = waitForExit(pid);
  let said = '';
  const out = new net.Socket({ fd: r, readable: true, writable: false });
  out.on('data', (d: Buffer) => (said += d.toString()));
  await until('the DNS server in the pod', () => said.includes('ready'));
  out.destroy();
  return {
    async stop() {
      process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}

describe('names resolved in the pod', () => {
  it("through a DNS server on the pod's loopback named by dnsConfig (works with --network=none)", async () => {
    const spec = {
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['127.0.0.1'] },
      containers: [box('c', 'exec sleep 3600')],
    };
    const r = await c.run(['run', '-d', '-'], { input: pod('dns-res', spec) });
    expect(r.stderr).toBe('');
    const pausePid = JSON.parse((await c.run(['inspect', 'dns-res', '-o', 'json'])).stdout).pause.pid;
    const server = await startDnsServer(pausePid);
    try {
      const found = await c.run(['exec', 'dns-res', '--', 'nslookup', '-type=a', 'svc.podbox.test']);
      expect(found.stdout).toContain('Name:\tsvc.podbox.test\nAddress: 192.0.2.10');
      expect(found.exitCode).toBe(0);
      const missing = await c.run(['exec', 'dns-res', '--', 'nslookup', '-type=a', 'nope.podbox.test']);
      expect(missing.stdout).toContain("** server can't find nope.podbox.test: NXDOMAIN");
    } finally {
      await server.stop();
    }
  });
});

/**
 * The answer of DNS_SERVER's zone to one query: svc.podbox.test A 192.0.2.10, NXDOMAIN for other
 * names. Undefined for what is not a query it can read.
 */
function answerTo(q: Buffer): Buffer | undefined {
  let i = 12;
  const labels: string[] = [];
  while (i < q.length && q[i]) {
    labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString());
    i += q[i]! + 1;
  }
  if (q.length < i + 5) return undefined;
  const qtype = q.readUInt16BE(i + 1);
  const question = q.subarray(12, i + 5);
  const known = labels.join('.').toLowerCase() === 'svc.podbox.test';
  const answer =
    known && qtype === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10]) : Buffer.alloc(0);
  const header = Buffer.from([q[0]!, q[1]!, 0x81, known ? 0x80 : 0x83, 0, 1, 0, answer.length ? 1 : 0, 0, 0, 0, 0]);
  return Buffer.concat([header, question, answer]);
}

/** A query for name's A record, with id. */
function queryFor(name: string, id: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/**
 * The node's resolver, as a test can run it: on the host's 127.0.0.1 (the node's loopback), UDP and
 * TCP on one port the kernel picks (a user may not bind 53 there; PODBOX_TESTING_DNS_PORT says it).
 * `questions` lists what it was asked, "udp name" or "tcp name".
 */
async function startHostResolver(): Promise<{ port: number; questions: string[]; stop(): Promise<void> }> {
  const questions: string[] = [];
  const nameOf = (q: Buffer) => {
    const labels: string[] = [];
    for (let i = 12; i < q.length && q[i]; i += q[i]! + 1) labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString());
    return labels.join('.');
  };
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (q, from) => {
      questions.push(`udp ${nameOf(q)}`);
      const a = answerTo(q);
      if (a) udp.send(a, from.port, from.address);
    });
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const tcp = net.createServer((c) => {
      let got = Buffer.alloc(0);
      c.on('error', () => c.destroy());
      c.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 2 || got.length < 2 + got.readUInt16BE(0)) return;
        const q = got.subarray(2, 2 + got.readUInt16BE(0));
        questions.push(`tcp ${nameOf(q)}`);
        const a = answerTo(q)!;
        c.end(Buffer.concat([Buffer.from([a.length >> 8, a.length & 0xff]), a]));
      });
    });
    const bound = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    if (!bound) {
      udp.close();
      if (attempt < 5) continue;
      throw new Error(`no port free for both UDP and TCP on 127.0.0.1`);
    }
    return {
      port,
      questions,
      async stop() {
        udp.close();
        await new Promise((r) => tcp.close(r));
      },
    };
  }
}

describe("a node resolver on the node's loopback, through podbox's DNS relay", () => {
  async function relayPod(name: string, network = 'pasta') {
    const resolver = await startHostResolver();
    const loopFile = join(dir, `resolv-${name}.conf`);
    writeFileSync(loopFile, 'nameserver 127.0.0.1\nsearch lan\n');
    const p = cli(c.home, {
      PODBOX_TESTING_RESOLV_CONF: loopFile,
      PODBOX_TESTING_DNS_PORT: String(resolver.port),
      PODBOX_NETWORK: network,
    });
    const spec = { dnsPolicy: 'Default', terminationGracePeriodSeconds: 0, containers: [box('c', 'exec sleep 3600')] };
    const r = await p.run(['run', '-d', '-'], { input: pod(name, spec) });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const pausePid = podRuntime(c.home, name).pause!.pid;
    return { resolver, pausePid };
  }

  async function nslookup(name: string, host: string) {
    return c.run(['exec', name, '--', 'nslookup', '-type=a', host]);
  }

  const FOUND =
    'Server:\t\t127.0.0.153\nAddress:\t127.0.0.153:53\n\nNon-authoritative answer:\nName:\tsvc.podbox.test\nAddress: 192.0.2.10\n';

  it.each(['pasta', 'slirp4netns'])(
    '%s: resolv.conf names the relay, and nslookup in the pod gets the answer',
    async (mode) => {
      const { resolver } = await relayPod(`dns-relay-${mode.slice(0, 5)}`, mode);
      const name = `dns-relay-${mode.slice(0, 5)}`;
      try {
        const conf = await c.run(['exec', name, '--', 'cat', '/etc/resolv.conf']);
        expect(conf.stdout).toBe('search lan\nnameserver 127.0.0.153');
        const found = await nslookup(name, 'svc.podbox.test');
        expect(found).toEqual({ exitCode: 0, stdout: FOUND, stderr: '' });
        const missing = await nslookup(name, 'nope.podbox.test');
        expect(missing.stdout).toContain("** server can't find nope.podbox.test: NXDOMAIN");
        // The node's resolver was asked, by the relay: pasta or slirp4netns read the machine's own file.
        expect(resolver.questions).toContain('udp svc.podbox.test');
        expect(resolver.questions).toContain('udp nope.podbox.test');
        expect((await c.run(['describe', name])).stdout).toContain(
          `\n  DNS Relay:      127.0.0.153:53 -> 127.0.0.1:${resolver.port}\n`,
        );
      } finally {
        await resolver.stop();
      }
    },
  );

  it('answers over TCP too (a truncated answer is asked again so)', async () => {
    const { resolver, pausePid } = await relayPod('dns-relay-tcp');
    try {
      const s = podDial(pausePid)('127.0.0.153', 53);
      const q = queryFor('svc.podbox.test', 0x4242);
      const answer = await new Promise<Buffer>((resolve, reject) => {
        let got = Buffer.alloc(0);
        s.on('connect', () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
        s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
        s.on('end', () => resolve(got));
        s.on('error', reject);
      });
      s.destroy();
      const expected = answerTo(q)!;
      expect(answer).toEqual(Buffer.concat([Buffer.from([0, expected.length]), expected]));
      expect(resolver.questions).toEqual(['tcp svc.podbox.test']);
    } finally {
      await resolver.stop();
    }
  });

  it('hostile packets from the pod are dropped or passed on, never crash the supervisor; a successor relays again', async () => {
    const { resolver, pausePid } = await relayPod('dns-relay-bad');
    try {
      const supervisor = supervisorPid(c.home)!;
      const fd = native().boundSocketInNamespace(pausePid, 'udp', '127.0.0.1', 0);
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ fd }, r));
      const send = (b: Buffer) => new Promise<void>((r) => s.send(b, 53, '127.0.0.153', () => r()));
      await send(Buffer.alloc(0)); // nothing
      await send(Buffer.from([1, 2, 3])); // shorter than a header
      await send(Buffer.alloc(65507, 0xff)); // the largest datagram, an answer (QR set): dropped
      await send(Buffer.alloc(65507, 0)); // the largest, a query of nothing: the resolver's to refuse
      for (let i = 0; i < 300; i++) await send(queryFor('flood.podbox.test', i)); // more than in flight at once
      s.close();
      const found = await nslookup('dns-relay-bad', 'svc.podbox.test');
      expect(found).toEqual({ exitCode: 0, stdout: FOUND, stderr: '' });
      expect(supervisorPid(c.home)).toBe(supervisor);
      expect(resolver.questions.filter((q) => q === 'udp ')).toHaveLength(1);

      // A successor adopts the pod and makes its relay again.
      process.kill(supervisor, 'SIGKILL');
      await until('the supervisor to die', () => !alive(supervisor));
      expect((await c.run(['get', 'dns-relay-bad'])).exitCode).toBe(0);
      await until('a new supervisor', () => (supervisorPid(c.home) ?? supervisor) !== supervisor);
      const again = await nslookup('dns-relay-bad', 'svc.podbox.test');
      expect(again).toEqual({ exitCode: 0, stdout: FOUND, stderr: '' });
    } finally {
      await resolver.stop();
    }
  });

  it('--network=none: no relay, the loopback resolver is kept (a hermetic pod has no way out)', async () => {
    const loopFile = join(dir, 'resolv-none.conf');
    writeFileSync(loopFile, 'nameserver 127.0.0.53\nsearch lan\n');
    const p = cli(c.home, { PODBOX_TESTING_RESOLV_CONF: loopFile, PODBOX_NETWORK: 'none' });
    const r = await p.run(['run', '-'], {
      input: pod('dns-relay-none', {
        dnsPolicy: 'Default',
        restartPolicy: 'Never',
        containers: [box('c', 'cat /etc/resolv.conf')],
      }),
    });
    expect(r).toEqual({ exitCode: 0, stdout: 'c | search lan\nc | nameserver 127.0.0.53', stderr: '' });
  });
});
