import { describe, it, expect, afterAll } from 'vitest';
import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { cli, until } from '../helpers/cli.js';
import { native } from '../../src/sandbox/native.js';
import { waitForExit } from '../../src/sandbox/sandbox.js';
import { devNullFd } from '../../src/sandbox/namespaces.js';

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

  it("with pasta, the host's loopback resolver becomes the stack's DNS forwarder (gateway .3)", async () => {
    const loopFile = join(dir, 'resolv-loopback.conf');
    writeFileSync(loopFile, 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch lan\n');
    const withPasta = cli(c.home, { PODBOX_TESTING_RESOLV_CONF: loopFile, PODBOX_NETWORK: 'pasta' });
    const r = await withPasta.run(['run', '--keep', '-'], {
      input: pod('dns-pasta', {
        dnsPolicy: 'Default',
        restartPolicy: 'Never',
        containers: [box('c', 'cat /etc/resolv.conf')],
      }),
    });
    expect(r.stderr).toBe('');
    const podIP: string = JSON.parse((await c.run(['get', 'dns-pasta', '-o', 'json'])).stdout).status.podIP;
    expect(podIP).toMatch(/^10\.\d+\.\d+\.100$/);
    const forwarder = podIP.replace(/\.100$/, '.3');
    expect(r.stdout).toBe(`c | search lan\nc | nameserver ${forwarder}\nc | nameserver 192.0.2.53`);
  });
});
