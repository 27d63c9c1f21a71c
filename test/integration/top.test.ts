import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { supervisorPid, until } from '../helpers/cli.js';

const c = podTestHome();

async function logsOf(name: string): Promise<string> {
  return until(`${name} logged`, async () => {
    const r = await c.run(['logs', name]);
    return r.exitCode === 0 && r.stdout !== '' ? r.stdout : undefined;
  });
}

describe('oom_score_adj by QoS class, as the kubelet sets it', () => {
  it('BestEffort 1000, Burstable from its memory request, Guaranteed -997 or the floor runc inherits', async () => {
    const show = box('app', 'cat /proc/self/oom_score_adj; sleep 600');
    const resources = {
      be: {},
      burst: { requests: { memory: '1Gi' } },
      guar: { limits: { cpu: '100m', memory: '64Mi' } },
    };
    for (const [name, r] of Object.entries(resources)) {
      const spec = { terminationGracePeriodSeconds: 1, containers: [{ ...show, resources: r }] };
      expect((await c.run(['run', '-d', '--network=none', '-'], { input: pod(name, spec) })).exitCode).toBe(0);
    }
    expect(await logsOf('be')).toBe('1000');
    expect(await logsOf('burst')).toBe(String(1000 - Math.trunc((1000 * 1024 ** 3) / totalmem())));
    // Without CAP_SYS_RESOURCE (rootless; or root in a container that lacks it) runc cannot go below
    // the supervisor's value; with it the supervisor runs at the kubelet's -999.
    const floor = Number(readFileSync(`/proc/${supervisorPid(c.home)}/oom_score_adj`, 'utf8'));
    expect(await logsOf('guar')).toBe(String(Math.max(-997, floor)));
  });
});

describe('podbox top', () => {
  it("shows each container's CPU rate and memory working set from its cgroup", async () => {
    const spec = {
      terminationGracePeriodSeconds: 1,
      containers: [
        box('spin', 'while :; do :; done'),
        // 20 MiB of tmpfs pages, charged to the cgroup of the container that wrote them
        box('mem', 'head -c 20971520 /dev/zero > /dev/shm/fill && echo filled && sleep 600'),
      ],
    };
    expect((await c.run(['run', '-d', '--network=none', '-'], { input: pod('busy', spec) })).exitCode).toBe(0);
    await until('mem filled', async () => (await c.run(['logs', 'busy', '-c', 'mem'])).stdout === 'filled');
    const r = await c.run(['top', 'busy', '--containers', '--no-headers', '--sort-by', 'memory']);
    expect(r.stderr).toBe('');
    const rows = r.stdout.split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((x) => [x[0], x[1]])).toEqual([
      ['busy', 'mem'],
      ['busy', 'spin'],
    ]);
    const [mem, spin] = rows;
    expect(Number(mem![3]!.replace('Mi', ''))).toBeGreaterThanOrEqual(20);
    expect(Number(mem![3]!.replace('Mi', ''))).toBeLessThan(24);
    expect(mem![2]).toMatch(/^[0-9]m$/); // asleep: a few millicores at most
    // A busy loop on a shared 2-core machine: well above idle, never above the machine's cores.
    expect(Number(spin![2]!.replace('m', ''))).toBeGreaterThan(50);
    expect(Number(spin![2]!.replace('m', ''))).toBeLessThanOrEqual(1000 * 64);

    const pods = await c.run(['top']);
    expect(pods.stdout.split('\n')[0]).toBe('NAME   CPU(cores)   MEMORY(bytes)');
    expect(pods.stdout.split('\n')[1]).toMatch(/^busy   \d+m +2[0-3]Mi$/);
  });

  it('a pod that is not running is one line and exit 1', async () => {
    const r = await c.run(['top', 'nosuch']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('podbox: pod "nosuch" not found: list pods with `podbox get`');
  });
});
