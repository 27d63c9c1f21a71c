import { describe, it, expect, afterAll } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { alive, cli, supervisorPid, until } from '../helpers/cli.js';
import { podCgroupDir, podCgroupLeft, readCgroupFile } from '../helpers/cgroups.js';

// Limits enforced for real, rootless through a delegated subtree (scripts/delegate-cgroups.sh), as root without one.
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '0.2,1,600' });
// A second home whose supervisor finds a pasta that fails (as network-stack-failure.test.ts):
// a pod that fails to start.
const fake = mkdtempSync(join(tmpdir(), 'podbox-fake-pasta-'));
writeFileSync(join(fake, 'pasta'), '#!/bin/sh\necho "Failed to open() /dev/net/tun: Permission denied" >&2\nexit 1\n');
chmodSync(join(fake, 'pasta'), 0o755);
const broken = podTestHome({ PATH: `${fake}:${process.env.PATH}` });
afterAll(() => rmSync(fake, { recursive: true, force: true }));

async function podJson(name: string) {
  return until(`pod ${name}`, async () => {
    const r = await c.run(['get', name, '-o', 'json']);
    return r.exitCode === 0 ? JSON.parse(r.stdout) : undefined;
  });
}

describe('resource limits through cgroups', () => {
  it('past limits.memory: OOMKilled, exit 137, an event, restarted per policy', async () => {
    const r = await c.run(['run', '-d', '-'], {
      input: pod('oom', {
        restartPolicy: 'OnFailure',
        containers: [
          box('eat', 'echo eating; head -c 100m /dev/zero | tail', { resources: { limits: { memory: '24Mi' } } }),
        ],
      }),
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const status = await until(
      'an OOM kill and a restart',
      async () => {
        const s = (await podJson('oom')).status.containerStatuses[0];
        return s.restartCount >= 1 && s.lastState.terminated ? s : undefined;
      },
      30_000,
    );
    expect(status.lastState.terminated.reason).toBe('OOMKilled');
    expect(status.lastState.terminated.exitCode).toBe(137);
    const p = await podJson('oom');
    expect(p.status.qosClass).toBe('Burstable');
    const dir = podCgroupDir('memory', 'Burstable', p.metadata.uid);
    expect(readCgroupFile(dir, 'memory.limit_in_bytes')).toBe(String(24 * 1024 * 1024));
    const describe = (await c.run(['describe', 'oom'])).stdout;
    expect(describe).toMatch(
      new RegExp(
        'Warning\\s+OOMKilling\\s+.*\\s+kubelet\\s+' +
          'Memory cgroup out of memory: a process of container eat was killed \\(limits.memory 24Mi\\)',
      ),
    );
    expect(describe).toMatch(/Limits:\n\s+memory:\s+24Mi\n/);
    expect((await c.run(['delete', 'oom'])).exitCode).toBe(0);
    expect(podCgroupLeft('Burstable', p.metadata.uid)).toEqual([]);
  });

  it('an OOM kill while no supervisor runs: read by the successor that adopts the pod', async () => {
    const r = await c.run(['run', '-d', '-'], {
      input: pod('orphan', {
        restartPolicy: 'Never',
        containers: [
          box('eat', 'echo ready; sleep 2; head -c 100m /dev/zero | tail', {
            resources: { limits: { memory: '24Mi' } },
          }),
        ],
      }),
    });
    expect(r.exitCode).toBe(0);
    await until('ready', async () => (await c.run(['logs', 'orphan'])).stdout.includes('ready'), 30_000);
    const uid = (await podJson('orphan')).metadata.uid;
    const supervisor = supervisorPid(c.home)!;
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor gone', () => !alive(supervisor));
    const memory = podCgroupDir('memory', 'Burstable', uid);
    await until(
      'the OOM kill',
      () => /^oom_kill [1-9]\d*$/m.test(readCgroupFile(`${memory}/eat.0`, 'memory.oom_control')),
      15_000,
    );
    // `get` starts a supervisor, which adopts the pod and reads pause's exit record.
    const s = await until(
      'the successor saw the exit',
      async () => (await podJson('orphan')).status.containerStatuses[0].state.terminated,
      30_000,
    );
    expect(s).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    expect((await c.run(['delete', 'orphan'])).exitCode).toBe(0);
    expect(podCgroupLeft('Burstable', uid)).toEqual([]);
  });

  it('a pid bomb stops at PODBOX_POD_PIDS_LIMIT', async () => {
    const limited = cli(c.home, { ...c.env, PODBOX_POD_PIDS_LIMIT: '20' });
    const r = await limited.run(['run', '-d', '-'], {
      input: pod('bomb', {
        containers: [
          box(
            'b',
            // busybox's sh exits when it cannot fork: the bomb is a shell of its own.
            `sh -c 'i=0; while [ $i -lt 40 ]; do sleep 600 & i=$((i+1)); done'; echo spawned; exec sleep 600`,
          ),
        ],
      }),
    });
    expect(r.exitCode).toBe(0);
    await until('the bomb spawned', async () => (await c.run(['logs', 'bomb'])).stdout.includes('spawned'), 30_000);
    const p = await podJson('bomb');
    const dir = podCgroupDir('pids', 'BestEffort', p.metadata.uid);
    expect(readCgroupFile(dir, 'pids.max')).toBe('20');
    // The limit reached: pause, the container's shell, the bomb and the 17 sleeps it could start.
    // Then the bomb is gone and the sleeps stay.
    expect(readCgroupFile(dir, 'pids.current')).toBe('19');
    expect((await c.run(['logs', 'bomb'])).stdout).toContain("can't fork");
    expect((await c.run(['delete', 'bomb', '--now'])).exitCode).toBe(0);
    expect(podCgroupLeft('BestEffort', p.metadata.uid)).toEqual([]);
  });

  it('a cpu-bound container under limits.cpu 200m uses about a fifth of a cpu', async () => {
    const r = await c.run(['run', '-d', '-'], {
      input: pod('spin', {
        containers: [
          box('s', 'echo spinning; while :; do :; done', { resources: { limits: { cpu: '200m', memory: '64Mi' } } }),
        ],
      }),
    });
    expect(r.exitCode).toBe(0);
    await until('spinning', async () => (await c.run(['logs', 'spin'])).stdout.includes('spinning'), 30_000);
    const p = await podJson('spin');
    expect(p.status.qosClass).toBe('Guaranteed');
    const cpu = podCgroupDir('cpu', 'Guaranteed', p.metadata.uid);
    expect(readCgroupFile(cpu, 'cpu.cfs_quota_us')).toBe('20000');
    expect(readCgroupFile(`${cpu}/s.0`, 'cpu.cfs_quota_us')).toBe('20000');
    expect(readCgroupFile(`${cpu}/s.0`, 'cpu.shares')).toBe('204');
    const acct = `${podCgroupDir('cpuacct', 'Guaranteed', p.metadata.uid)}/s.0`;
    const t0 = process.hrtime.bigint();
    const u0 = BigInt(readCgroupFile(acct, 'cpuacct.usage'));
    // The measuring interval: 3 s of wall time (several CFS periods of 100 ms).
    await until('3 s of measurement', () => process.hrtime.bigint() - t0 >= 3_000_000_000n, 10_000);
    const used = Number(BigInt(readCgroupFile(acct, 'cpuacct.usage')) - u0) / Number(process.hrtime.bigint() - t0);
    expect(used).toBeGreaterThan(0.1);
    expect(used).toBeLessThan(0.35);
    expect((await c.run(['delete', 'spin', '--now'])).exitCode).toBe(0);
    expect(podCgroupLeft('Guaranteed', p.metadata.uid)).toEqual([]);
  });

  it('without a writable cgroup: one warning line, an event, "(not enforced)" in describe', async () => {
    const nowhere = cli(c.home, { ...c.env, PODBOX_CGROUP_PARENT: '/podbox-test-not-delegated' });
    const r = await nowhere.run(['run', '-d', '-'], {
      input: pod('free', {
        containers: [box('f', 'echo up; exec sleep 600', { resources: { limits: { cpu: '200m', memory: '32Mi' } } })],
      }),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        '^podbox: warning: pod "free": limits.cpu, limits.memory not enforced: ' +
          'PODBOX_CGROUP_PARENT=/podbox-test-not-delegated: /sys/fs/cgroup/\\w+/podbox-test-not-delegated ' +
          'is not writable \\(nor in \\d+ other hierarchies\\) \\(see `podbox doctor`\\)$',
      ),
    );
    await until('running', async () => (await c.run(['logs', 'free'])).stdout.includes('up'), 30_000);
    expect((await c.run(['describe', 'free'])).stdout).toMatch(
      /Limits:\t?\s+\(not enforced\)\n\s+cpu:\s+200m\n\s+memory:\s+32Mi\n/,
    );
    expect((await c.run(['describe', 'free'])).stdout).toMatch(
      new RegExp(
        'Warning\\s+FailedCreatePodContainer\\s+.*kubelet\\s+unable to ensure pod container exists: ' +
          'PODBOX_CGROUP_PARENT=/podbox-test-not-delegated: .* is not writable .*; its limits are not enforced\\n',
      ),
    );
    const p = await podJson('free');
    expect(podCgroupLeft('Guaranteed', p.metadata.uid)).toEqual([]);
    expect((await c.run(['delete', 'free', '--now'])).exitCode).toBe(0);
    // As root its container had a flat cgroup of its own instead (oci-config.ts containerCgroupsPath): gone too.
    const flat = readdirSync('/sys/fs/cgroup').flatMap((h) => {
      try {
        return readdirSync(join('/sys/fs/cgroup', h)).filter((n) => n.startsWith(`podbox-pod${p.metadata.uid}-`));
      } catch {
        return [];
      }
    });
    expect(flat).toEqual([]);
  });

  it('a pod that fails to start leaves no cgroup', async () => {
    const uid = 'cgroup-test-failed-start';
    const input = pod(
      'nostack',
      { restartPolicy: 'Never', containers: [box('c', 'echo ran', { resources: { limits: { memory: '32Mi' } } })] },
      { uid },
    );
    const r = await broken.run(['run', '--network=pasta', '-'], { input });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^podbox: pod "nostack": pasta failed: /);
    expect(podCgroupLeft('Burstable', uid)).toEqual([]);
  });

  it('a pod without resources runs as before', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('plain', { restartPolicy: 'Never', containers: [box('p', 'echo hi')] }),
    });
    expect(r).toEqual({ exitCode: 0, stdout: 'p | hi', stderr: '' });
  });
});
