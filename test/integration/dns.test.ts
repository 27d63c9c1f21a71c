import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';

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
