import { describe, it, expect, afterEach } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { processStartTime } from '../../src/host/proc.js';
import { join } from 'node:path';
import {
  networkModeOf,
  planNetwork,
  publishedPorts,
  releaseNetwork,
  publishedText,
  stackConfigured,
  signalStack,
  stopStack,
  stackAlive,
  type PodNetwork,
} from '../../src/sandbox/network.js';
import { container, pod } from '../helpers/fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function podsDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'podbox-net-'));
  dirs.push(d);
  return d;
}
// /dev/null opens read-write for anyone: the tun check passes without a tun device.
const env = { PODBOX_TUN_DEVICE: '/dev/null' };
const web = (name: string, hostPort: number) =>
  pod({ containers: [container('web', { ports: [{ containerPort: 80, protocol: 'TCP', hostPort }] })] }, name);

describe('networkModeOf', () => {
  it('hostNetwork, then --network, then the annotation, then pasta', () => {
    expect(networkModeOf(pod())).toBe('pasta');
    const annotated = pod();
    annotated.metadata.annotations = { 'podbox.dev/network': 'slirp4netns' };
    expect(networkModeOf(annotated)).toBe('slirp4netns');
    expect(networkModeOf(annotated, 'none')).toBe('none');
    expect(networkModeOf(pod({ hostNetwork: true }), 'none')).toBe('host');
    annotated.metadata.annotations = { 'podbox.dev/network': 'cni' };
    expect(() => networkModeOf(annotated)).toThrow('pod "demo": annotation podbox.dev/network: unknown network "cni"');
  });
});

describe('planNetwork', () => {
  it('gives each pod its own /24 and claims its host ports; a taken port names its pod', () => {
    const dir = podsDir();
    const a = planNetwork({ pod: web('a', 30080), mode: 'pasta', podsDir: dir, podDir: dir, env });
    const base = a.podIP.split('.').slice(0, 2).join('.');
    expect(a).toMatchObject({
      podIP: `${base}.1.100`,
      podIPs: [`${base}.1.100`],
      gateway: `${base}.1.2`,
      dnsForward: `${base}.1.3`,
      interface: 'eth0',
      mtu: 65520,
      published: [{ hostIP: '0.0.0.0', hostPort: 30080, containerPort: 80, protocol: 'TCP' }],
    });
    // a's record, so its claims are live
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'pod.json'), JSON.stringify({ pod: { metadata: { uid: '1111-2222' } } }));
    const b = planNetwork({ pod: pod({}, 'b'), mode: 'slirp4netns', podsDir: dir, podDir: dir, env });
    expect([b.podIP, b.interface]).toEqual([`${base}.2.100`, 'tap0']);
    expect(() => planNetwork({ pod: web('c', 30080), mode: 'pasta', podsDir: dir, podDir: dir, env })).toThrow(
      "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports " +
        '(host port 30080/TCP is published by pod "a")',
    );
    // c's failed plan left no claim; a's are released with it.
    expect(readdirSync(dir).sort()).toEqual(['.net-' + base + '.1', '.net-' + base + '.2', '.port-tcp-30080', 'a']);
    releaseNetwork(dir, a);
    releaseNetwork(dir, b);
    expect(readdirSync(dir)).toEqual(['a']);
  });

  it('takes over a claim whose pod is gone', () => {
    const dir = podsDir();
    writeFileSync(join(dir, '.port-tcp-30080'), 'gone\nuid\n');
    const n = planNetwork({ pod: web('c', 30080), mode: 'pasta', podsDir: dir, podDir: dir, env });
    expect(n.claims).toContain('.port-tcp-30080');
  });

  it('none and host: no stack, no claims; none refuses hostPorts', () => {
    const dir = podsDir();
    expect(planNetwork({ pod: pod(), mode: 'none', podsDir: dir, podDir: dir, env })).toEqual({
      mode: 'none',
      podIP: '127.0.0.1',
      podIPs: ['127.0.0.1'],
      published: [],
    });
    expect(() => planNetwork({ pod: web('w', 30080), mode: 'none', podsDir: dir, podDir: dir, env })).toThrow(
      'pod "w": hostPort 30080 cannot be published with --network=none',
    );
    expect(planNetwork({ pod: pod({ hostNetwork: true }), mode: 'host', podsDir: dir, podDir: dir, env }).mode).toBe(
      'host',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('publishedPorts and their text', () => {
    const p = pod({
      containers: [
        container('a', {
          ports: [
            { containerPort: 53, protocol: 'UDP', hostPort: 30053, hostIP: '127.0.0.1' },
            { containerPort: 9000, protocol: 'TCP' },
          ],
        }),
      ],
    });
    expect(publishedText(publishedPorts(p))).toBe('127.0.0.1:30053->53/UDP');
  });
});

describe('stackConfigured: when containers may start', () => {
  const pasta: PodNetwork = { mode: 'pasta', podIP: '10.88.1.100', podIPs: [], interface: 'eth0', published: [] };
  const failure = new Error('pasta failed');

  it("waits for the stack's whole start-up (its value) with slirp4netns, or with published ports", async () => {
    const slirp: PodNetwork = { ...pasta, mode: 'slirp4netns', interface: 'tap0' };
    expect(await stackConfigured(slirp, process.pid, Promise.resolve(failure))).toBe(failure);
    const published = {
      ...pasta,
      published: [{ hostIP: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'TCP' as const }],
    };
    expect(await stackConfigured(published, process.pid, Promise.resolve(failure))).toBe(failure);
  });

  it("pasta: its failure when it settles before the pod's route is there", async () => {
    // A pid with no such route (this process's namespace has no eth0 default route of that name here).
    const noRoute = { ...pasta, interface: 'podbox-none0' };
    expect(await stackConfigured(noRoute, process.pid, Promise.resolve(failure))).toBe(failure);
    expect(await stackConfigured(noRoute, process.pid, Promise.resolve(undefined))).toBeUndefined();
  });

  it('pasta: undefined once the default route through its interface is there, before pasta is done', async () => {
    const line = readFileSync('/proc/self/net/route', 'utf8')
      .split('\n')
      .find((l) => l.split('\t')[1] === '00000000');
    if (!line) return; // a machine with no default route has nothing to show this with
    const routed = { ...pasta, interface: line.split('\t')[0]! };
    expect(await stackConfigured(routed, process.pid, new Promise<Error>(() => {}))).toBeUndefined();
  });
});

describe('signalStack and stopStack: a teardown ends the stack', () => {
  it('signalStack sends SIGTERM once and returns at once; stopStack then only waits for the exit', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    const pid = child.pid!;
    const net: PodNetwork = { mode: 'pasta', podIP: '10.88.1.100', podIPs: [], published: [], stackPid: pid };
    net.stackStartTime = processStartTime(pid);
    expect(stackAlive(net)).toBe(true);
    expect(signalStack(net)).toBe(true);
    await stopStack(net);
    expect(stackAlive(net)).toBe(false);
    expect(await exited).toBe('SIGTERM');
    expect(signalStack(net)).toBe(false);
    expect(signalStack(undefined)).toBe(false);
  });
});
