import { describe, it, expect, afterAll } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { networkClaims, podboxProcesses, until } from '../helpers/cli.js';

// An ip that makes the pod network's bridge as the real one does, and fails as a kernel without veth
// would: first on PATH for this home's supervisor (started by the first `run` of this file).
const dir = mkdtempSync(join(tmpdir(), 'podbox-fake-ip-'));
const realIp = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p))!;
writeFileSync(
  join(dir, 'ip'),
  `#!/bin/sh\nfail() { echo "RTNETLINK answers: Operation not supported" >&2; exit 2; }\n` +
    `case "$*" in *veth*) fail;; *bridge*) [ -e ${dir}/no-bridge ] && fail;; esac\n` +
    `exec ${realIp} "$@"\n`,
);
chmodSync(join(dir, 'ip'), 0o755);
const c = podTestHome({ PATH: `${dir}:${process.env.PATH}` });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a pod that cannot join the pod network', () => {
  it('fails the run in one line, before any container ran, and leaves nothing', async () => {
    // A pod alone on the pod network gets no veth (pod-bridge.ts joinPodNetwork): the second one joins both.
    const first = pod('first', { terminationGracePeriodSeconds: 1, containers: [box('c', 'exec sleep 600')] });
    expect((await c.run(['run', '-d', '--network=pasta', '-'], { input: first })).exitCode).toBe(0);
    const input = pod('nobridge', { restartPolicy: 'Never', containers: [box('c', 'echo ran')] });
    const line = (r: { stderr: string }) => r.stderr.replace(/pb\d+/, 'pbPID').replace(/\/proc\/\d+\//, '/proc/PID/');
    const expected =
      'podbox: pod "nobridge": join the pod network: ip link add pbPID master podbox0 up type veth peer name ' +
      'eth1 netns /proc/PID/ns/net: RTNETLINK answers: Operation not supported: run `podbox doctor`';
    for (const detach of [[], ['-d']]) {
      const r = await c.run(['run', ...detach, '--network=pasta', '-'], { input });
      expect(r.stdout).toBe('');
      expect(line(r)).toBe(expected);
      expect(r.exitCode).toBe(1);
    }
    expect((await c.run(['get', '-o', 'name'])).stdout).toBe('pod/first');
    expect((await c.run(['delete', '--now', 'first'])).exitCode).toBe(0);
    expect((await c.run(['get'])).stderr).toBe('No resources found.');
    expect(networkClaims(c.home)).toEqual([]);
    // The supervisor goes with its last pod: no process of this home is left (pause, pasta, helpers).
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  });

  it('fails the run in one line when the pod network cannot be made, and leaves nothing', async () => {
    writeFileSync(join(dir, 'no-bridge'), '');
    const input = pod('nonet', { restartPolicy: 'Never', containers: [box('c', 'echo ran')] });
    const r = await c.run(['run', '--network=pasta', '-'], { input });
    expect(r).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'podbox: pod "nonet": make the pod network: ip link add podbox0 up type bridge: RTNETLINK answers: Operation not ' +
        'supported: run `podbox doctor`',
    });
    expect((await c.run(['get'])).stderr).toBe('No resources found.');
    expect(networkClaims(c.home)).toEqual([]);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  });
});
