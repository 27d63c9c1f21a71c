import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { alive, podRuntime, podboxProcesses, until } from '../helpers/cli.js';

const c = podTestHome();
const ROOT = process.getuid?.() === 0;

/** pause keeps the pod network's namespace at this fd (src/sandbox/pod-bridge.ts POD_NETWORK_NET_FD). */
const NET_FD = 5;

/** What pod A serves (c.run gives output trimmed). */
const FILE = 'pod to pod, by pod IP';

/** A pod serving FILE on :8080 with busybox httpd. */
function web(name: string): string {
  const script = `mkdir /w; echo '${FILE}' > /w/file; exec httpd -f -p 8080 -h /w`;
  return pod(name, { terminationGracePeriodSeconds: 1, containers: [box('web', script)] });
}

function idle(name: string): string {
  return pod(name, { terminationGracePeriodSeconds: 1, containers: [box('c', 'exec sleep 600')] });
}

async function start(name: string, mode: string, manifest: string): Promise<void> {
  const r = await c.run(['run', '-d', `--network=${mode}`, '-'], { input: manifest });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  await until(`${name} running`, async () => {
    const s = JSON.parse((await c.run(['get', name, '-o', 'json'])).stdout).status;
    return s.containerStatuses?.[0]?.state?.running && s;
  });
}

async function podIP(name: string): Promise<string> {
  return JSON.parse((await c.run(['get', name, '-o', 'json'])).stdout).status.podIP;
}

function pausePid(name: string): number {
  return podRuntime(c.home, name).pause!.pid;
}

/** The pod network namespace a pod's pause holds, as "net:[INODE]". */
function podNetworkOf(name: string): string {
  return readlinkSync(`/proc/${pausePid(name)}/fd/${NET_FD}`);
}

/** Every process of ours that has `ns` ("net:[INODE]") open or as its own namespace. */
function holders(ns: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const own = readlinkSync(`/proc/${p}/ns/net`) === ns;
      const fds = readdirSync(`/proc/${p}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${p}/fd/${fd}`) === ns;
        } catch {
          return false;
        }
      });
      if (own || fds) out.push(Number(p));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** (busybox 1.35 wget -T crashes: no timeout is given; an unreachable pod IP fails at once, no route.) */
async function get(from: string, ip: string): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return c.run(['exec', from, '--', 'wget', '-q', '-O', '-', `http://${ip}:8080/file`]);
}

/** FILE from the pod at ip, once its httpd listens (a running container need not have bound yet). */
async function fetched(from: string, ip: string): Promise<string> {
  return until(`${from} to fetch from ${ip}`, async () => {
    const r = await get(from, ip);
    return r.exitCode === 0 && r.stdout;
  });
}

describe('the pod network', () => {
  it('pasta pods reach each other by pod IP; a --network=none pod does not; all of it goes with the last pod', async () => {
    await start('a', 'pasta', web('a'));
    // Alone on the pod network, a pod has no veth (nothing to reach); the next pod joins it and itself.
    const interfaces = async (name: string) => (await c.run(['exec', name, '--', 'ls', '/sys/class/net'])).stdout;
    expect(await interfaces('a')).toBe('eth0\nlo');
    await start('b', 'pasta', idle('b'));
    expect(await interfaces('a')).toBe('eth0\neth1\nlo');
    expect(await interfaces('b')).toBe('eth0\neth1\nlo');
    const ipA = await podIP('a');
    const ipB = await podIP('b');
    expect(ipA).toMatch(/^10\.(8[89]|9\d)\.1\.100$/);
    expect(ipB).toBe(ipA.replace(/\.1\.100$/, '.2.100'));

    // Both pods are on one pod network: the same namespace at pause's fd 5.
    const nb = podNetworkOf('a');
    expect(nb).toMatch(/^net:\[\d+\]$/);
    expect(podNetworkOf('b')).toBe(nb);

    expect(await fetched('b', ipA)).toBe(FILE);
    // ICMP too: the container's root has CAP_NET_RAW in its pod (Kubernetes' default capabilities).
    const ping = await c.run(['exec', 'b', '--', 'ping', '-c', '1', '-W', '3', ipA]);
    expect(ping.stdout).toContain(`64 bytes from ${ipA}: seq=0`);
    expect(ping.exitCode).toBe(0);

    // The pod's view: eth1 on the pod network, the pods' /16 through it, its own /24 through the stack.
    const routes = await c.run(['exec', 'a', '--', 'ip', 'route']);
    const base = ipA.replace(/\.1\.100$/, '');
    expect(routes.stdout.split('\n').map((l) => l.trim())).toEqual([
      `default via ${base}.1.2 dev eth0`,
      `${base}.0.0/16 dev eth1 scope link`,
      `${base}.1.0/24 dev eth0 scope link  src ${ipA}`,
    ]);
    // Its user namespace is made in the pod network's: its map is an identity over that one's ids,
    // and from the host it maps as every pod's does (rootless: you, then your subordinate ids).
    const inside = await c.run(['exec', 'a', '--', 'cat', '/proc/self/uid_map']);
    const rows = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number));
    expect(rows(inside.stdout)).toEqual(
      ROOT
        ? [[0, 0, 65536]]
        : [
            [0, 0, 1],
            [1, 1, 65535],
          ],
    );
    const host = rows(readFileSync(`/proc/${pausePid('a')}/uid_map`, 'utf8'));
    expect(host[0]).toEqual([0, ROOT ? 0 : process.getuid!(), ROOT ? 65536 : 1]);

    // A pod with no stack is not on the pod network.
    await start('n', 'none', idle('n'));
    const refused = await get('n', ipA);
    expect(refused.stdout).toBe('');
    expect(refused.exitCode).not.toBe(0);

    // Gone with the last pod on it: nothing holds the namespace any more.
    const pauses = ['a', 'b', 'n'].map(pausePid);
    expect(holders(nb).length).toBeGreaterThan(0);
    expect((await c.run(['delete', '--now', 'a', 'b', 'n'])).exitCode).toBe(0);
    for (const p of pauses) expect(alive(p)).toBe(false);
    expect(holders(nb)).toEqual([]);

    // The next pod makes a pod network again.
    await start('d', 'pasta', web('d'));
    expect(podNetworkOf('d')).toMatch(/^net:\[\d+\]$/);
    expect(holders(podNetworkOf('d'))).toEqual([pausePid('d')]);
  });

  it("a container that reaches pause's descriptors cannot enter the pod network with them", async () => {
    // pause holds the pod network's namespaces (fd 5: network, 6: user). A container given SYS_PTRACE and
    // SYS_ADMIN (its pod's, not the pod network's) sharing pause's PID namespace opens them; joining either
    // needs CAP_SYS_ADMIN over the pod network's user namespace, which is its parent: refused.
    const script = `ls -l /proc/1/fd/5 /proc/1/fd/6 >/dev/null && echo opened;
      nsenter --net=/proc/1/fd/5 ip link show podbox0 >/dev/null 2>&1 && echo joined-net || echo net-refused;
      nsenter --user=/proc/1/fd/6 true 2>/dev/null && echo joined-user || echo user-refused`;
    const manifest = pod('spy', {
      restartPolicy: 'Never',
      shareProcessNamespace: true,
      containers: [box('t', script, { securityContext: { capabilities: { add: ['SYS_PTRACE', 'SYS_ADMIN'] } } })],
    });
    const r = await c.run(['run', '--network=pasta', '-'], { input: manifest });
    expect(r.stdout).toBe('t | opened\nt | net-refused\nt | user-refused');
    expect(r.exitCode).toBe(0);
  });

  it('a foreground run makes its pod network ahead: alone, or beside the pods already on it; nothing is left', async () => {
    const running = (await c.run(['get', '-o', 'name'])).stdout.split('\n').filter(Boolean);
    if (running.length)
      expect((await c.run(['delete', '--now', ...running.map((n) => n.replace('pod/', ''))])).exitCode).toBe(0);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
    // Alone: this run supervises its pod, in the pod network it made while reading the manifest.
    const alone = pod('alone', {
      restartPolicy: 'Never',
      containers: [box('c', 'ip -o -4 addr show eth0 | grep -c " inet 10\\."; cat /proc/self/uid_map | wc -l')],
    });
    const first = await c.run(['run', '--network=pasta', '-'], { input: alone });
    expect(first.stdout).toBe(ROOT ? 'c | 1\nc | 1' : 'c | 1\nc | 2');
    expect(first.exitCode).toBe(0);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
    // Beside a pod another process supervises: the one made ahead is let go, the pods share one network.
    await start('w', 'pasta', web('w'));
    const ip = await podIP('w');
    const fetch = pod('fetch', {
      restartPolicy: 'Never',
      containers: [box('c', `until wget -q -O - http://${ip}:8080/file; do sleep 0.1; done`)],
    });
    const second = await c.run(['run', '--network=pasta', '-'], { input: fetch });
    expect(second.stdout).toBe(`c | ${FILE}`);
    expect(second.exitCode).toBe(0);
    expect(holders(podNetworkOf('w'))).toEqual([pausePid('w')]);
    expect((await c.run(['delete', '--now', 'w'])).exitCode).toBe(0);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  });

  it('a slirp4netns pod and a pasta pod reach each other', async () => {
    await start('s', 'slirp4netns', web('s'));
    await start('p', 'pasta', web('p'));
    const [ipS, ipP] = [await podIP('s'), await podIP('p')];
    expect(await fetched('p', ipS)).toBe(FILE);
    expect(await fetched('s', ipP)).toBe(FILE);
  });
});
