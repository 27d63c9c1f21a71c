import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until, alive, podRecord, podDirs } from '../helpers/cli.js';

const c = podTestHome();

async function runningPids(name: string): Promise<{ pause: number; containers: number[] }> {
  return until(`${name} running`, async () => {
    const r = await c.run(['inspect', name, '-o', 'json']);
    if (r.exitCode !== 0) return undefined;
    const i = JSON.parse(r.stdout);
    return i.containers.length
      ? { pause: i.pause.pid, containers: i.containers.map((x: { pid: number }) => x.pid) }
      : undefined;
  });
}

describe('graceful termination', () => {
  it('SIGTERM to a foreground run: a process that traps SIGTERM gets it and exits; podbox exits 143', async () => {
    const p = c.spawn(['run', '-', '--keep']);
    p.stdin!.end(
      pod('trap', {
        terminationGracePeriodSeconds: 20,
        containers: [box('t', 'trap "echo got SIGTERM; exit 0" TERM; echo ready; while true; do sleep 0.05; done')],
      }),
    );
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('ready line', () => out.includes('t | ready'));
    const t0 = Date.now();
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(143);
    expect(out).toContain('t | got SIGTERM');
    expect(Date.now() - t0).toBeLessThan(15_000); // it did not wait for the 20 s grace period
    const s = JSON.parse((await c.run(['get', 'trap', '-o', 'json'])).stdout).status.containerStatuses[0];
    expect(s.state.terminated.exitCode).toBe(0);
  });

  it('a process that ignores SIGTERM is killed with SIGKILL when the grace period ends', async () => {
    expect(
      (
        await c.run(['run', '-d', '-'], {
          input: pod('stubborn', {
            terminationGracePeriodSeconds: 1,
            containers: [box('s', 'trap "" TERM; while true; do sleep 0.05; done')],
          }),
        })
      ).exitCode,
    ).toBe(0);
    const pids = await runningPids('stubborn');
    const r = await c.run(['delete', 'stubborn']);
    expect(r.stdout).toBe('pod "stubborn" deleted');
    expect(r.exitCode).toBe(0);
    expect(alive(pids.pause)).toBe(false);
    for (const pid of pids.containers) expect(alive(pid)).toBe(false);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('--grace-period 0 kills at once', async () => {
    expect(
      (await c.run(['run', '-d', '-'], { input: pod('quick', { containers: [box('s', 'trap "" TERM; sleep 60')] }) }))
        .exitCode,
    ).toBe(0);
    await runningPids('quick');
    const t0 = Date.now();
    expect((await c.run(['delete', 'quick', '--grace-period', '0'])).exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('a killed supervisor takes its pod with it', () => {
  it('SIGKILL to the supervisor of a -d pod: pause and every container die; the next podbox shows it Unknown and delete cleans it', async () => {
    expect(
      (
        await c.run(['run', '-d', '-'], {
          input: pod('orphan', { containers: [box('a', 'sleep 60'), box('b', 'sleep 60')] }),
        })
      ).exitCode,
    ).toBe(0);
    const pids = await runningPids('orphan');
    const supervisor = podRecord(c.home, 'orphan').supervisor.pid;
    process.kill(supervisor, 'SIGKILL');
    await until('pause and containers gone', () => ![pids.pause, ...pids.containers].some(alive), 10_000);
    const got = await c.run(['get', 'orphan', '-o', 'json']);
    expect(JSON.parse(got.stdout).status.phase).toBe('Unknown');
    expect((await c.run(['delete', 'orphan'])).exitCode).toBe(0);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('SIGKILL to a foreground run: the pod dies, and the next command removes what is left', async () => {
    const p = c.spawn(['run', '-']);
    p.stdin!.end(pod('fg', { containers: [box('a', 'echo up; sleep 60')] }));
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('container up', () => out.includes('a | up'));
    const pids = await runningPids('fg');
    p.kill('SIGKILL');
    await p;
    await until('pod processes gone', () => ![pids.pause, ...pids.containers].some(alive), 10_000);
    expect((await c.run(['get'])).exitCode).toBe(0);
    expect(podDirs(c.home)).toEqual([]);
  });
});
