import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { until, alive, podRecord, podDirs, podRuntime, supervisorPid } from '../helpers/cli.js';

const c = podTestHome({ PODBOX_TESTING_BACKOFF: '0.2,1,600' });

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

describe('pods outlive their supervisor', () => {
  it("SIGKILL to the user's supervisor: containers keep running; the next command adopts the pod; restarts and logs go on", async () => {
    const input = pod('orphan', {
      terminationGracePeriodSeconds: 1,
      containers: [
        box('a', 'i=0; while true; do i=$((i+1)); echo "a $i"; sleep 0.1; done'),
        box('b', 'sleep 0.2; exit 3'),
      ],
    });
    expect((await c.run(['run', '-d', '-'], { input })).exitCode).toBe(0);
    const restarts = async () =>
      JSON.parse((await c.run(['get', 'orphan', '-o', 'json'])).stdout).status.containerStatuses[1].restartCount;
    await until('b restarted twice', async () => (await restarts()) >= 2, 20_000);
    const pids = await runningPids('orphan');
    const supervisor = supervisorPid(c.home)!;
    expect(podRecord(c.home, 'orphan').supervisor.pid).toBe(supervisor);
    const aPid = podRuntime(c.home, 'orphan').containers.a!.hostPid!;
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor gone', () => !alive(supervisor));
    const before = podRuntime(c.home, 'orphan').containers.b!.instance;
    // Nothing supervises the pod now, and it runs on.
    expect([alive(pids.pause), alive(aPid)]).toEqual([true, true]);
    const linesBefore = (await c.run(['logs', 'orphan', '-c', 'a'])).stdout.split('\n').length;
    // `get` starts a supervisor, which adopts the pod: b is restarted again, a is the same process.
    const counted = await restarts();
    // (The count moves when the start is decided, the instance once it runs: a status saved in
    // between, as pause records runc's own processes exiting, has the one and not the other.)
    await until(
      'b restarted by the new supervisor',
      async () => (await restarts()) > counted && podRuntime(c.home, 'orphan').containers.b!.instance > before,
      20_000,
    );
    const adopter = supervisorPid(c.home)!;
    expect(adopter).not.toBe(supervisor);
    expect(podRuntime(c.home, 'orphan').containers.b!.instance).toBeGreaterThan(before);
    expect(podRuntime(c.home, 'orphan').containers.a!.hostPid).toBe(aPid);
    // a's output, written while no supervisor read it, waited in its FIFO: no line is missing.
    await until(
      'more lines of a',
      async () => (await c.run(['logs', 'orphan', '-c', 'a'])).stdout.split('\n').length > linesBefore + 5,
    );
    const lines = (await c.run(['logs', 'orphan', '-c', 'a'])).stdout.split('\n');
    expect(lines).toEqual(lines.map((_, i) => `a ${i + 1}`));
    expect((await c.run(['delete', 'orphan'])).exitCode).toBe(0);
    expect([alive(pids.pause), alive(aPid)]).toEqual([false, false]);
    expect(podDirs(c.home)).toEqual([]);
    await until('the supervisor exits with the last pod', () => supervisorPid(c.home) === undefined);
    expect(readdirSync(join(c.home, 'pods'))).toEqual([]);
  });

  it('SIGKILL to the supervisor under a foreground run: the run follows the adopted pod to its end and exit code', async () => {
    // A pod in the background first: its supervisor runs apart, and the foreground run is its client.
    expect(
      (await c.run(['run', '-d', '-'], { input: pod('bg', { containers: [box('s', 'sleep 60')] }) })).exitCode,
    ).toBe(0);
    const p = c.spawn(['run', '-']);
    p.stdin!.end(
      pod('follow', {
        restartPolicy: 'Never',
        containers: [box('a', 'echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; exit 7')],
      }),
    );
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('container up', () => out.includes('a | before'));
    const supervisor = supervisorPid(c.home)!;
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor gone', () => !alive(supervisor));
    await until('a new supervisor', () => {
      const s = supervisorPid(c.home);
      return s !== undefined && s !== supervisor;
    });
    expect((await c.run(['exec', 'follow', '--', 'touch', '/tmp/go'])).exitCode).toBe(0);
    const r = await p;
    expect(out).toBe('a | before\na | after\n');
    expect(r.exitCode).toBe(7);
    expect(podDirs(c.home)).toEqual(['bg']);
  });

  it("one supervisor for all of a user's pods, gone with the last", async () => {
    for (const n of ['one', 'two', 'three'])
      expect(
        (await c.run(['run', '-d', '-'], { input: pod(n, { containers: [box('s', 'sleep 60')] }) })).exitCode,
      ).toBe(0);
    const sups = ['one', 'two', 'three'].map((n) => podRecord(c.home, n).supervisor.pid);
    expect(new Set(sups).size).toBe(1);
    await until('the lock holder is that supervisor', () => supervisorPid(c.home) === sups[0]);
    const r = await c.run(['delete', '--grace-period', '0', 'one', 'two', 'three']);
    expect(r.stdout).toBe('pod "one" deleted\npod "two" deleted\npod "three" deleted');
    await until('the supervisor exits', () => !alive(sups[0]!));
    expect(readdirSync(join(c.home, 'pods'))).toEqual([]);
  });

  it('SIGKILL to a foreground run that supervises its own pod: the pod dies with it; the next command removes what is left', async () => {
    const p = c.spawn(['run', '-']);
    p.stdin!.end(pod('fg', { containers: [box('a', 'echo up; sleep 60')] }));
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('container up', () => out.includes('a | up'));
    // No other pod: this run is the user's supervisor itself (no `podbox __supervisor` process).
    expect(supervisorPid(c.home)).toBe(p.pid);
    const pids = await runningPids('fg');
    p.kill('SIGKILL');
    await p;
    await until('pod processes gone', () => ![pids.pause, ...pids.containers].some(alive), 10_000);
    expect((await c.run(['get'])).stderr).toBe('No resources found.');
    expect(podDirs(c.home)).toEqual([]);
  });

  it('SIGKILL to a foreground run that is a client of the supervisor: its pod is deleted, with its grace period', async () => {
    expect(
      (await c.run(['run', '-d', '-'], { input: pod('bg', { containers: [box('s', 'sleep 60')] }) })).exitCode,
    ).toBe(0);
    const p = c.spawn(['run', '-']);
    p.stdin!.end(pod('fg', { terminationGracePeriodSeconds: 1, containers: [box('a', 'echo up; sleep 60')] }));
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('container up', () => out.includes('a | up'));
    const pids = await runningPids('fg');
    p.kill('SIGKILL');
    await p;
    await until('pod processes gone', () => ![pids.pause, ...pids.containers].some(alive), 10_000);
    await until('the pod removed', () => podDirs(c.home).length === 1);
    expect(podDirs(c.home)).toEqual(['bg']);
  });

  it('a foreground run that supervised other pods too hands them over when its own pod ends', async () => {
    const p = c.spawn(['run', '-']);
    p.stdin!.end(
      pod('host', {
        restartPolicy: 'Never',
        containers: [box('a', 'echo up; while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 4')],
      }),
    );
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('container up', () => out.includes('a | up'));
    // Two more pods come to this run's supervisor: one in the background, one followed by another run.
    const input = pod('other', {
      containers: [box('t', 'i=0; while true; do i=$((i+1)); echo "t $i"; sleep 0.1; done')],
    });
    expect((await c.run(['run', '-d', '-'], { input })).exitCode).toBe(0);
    const q = c.spawn(['run', '-']);
    q.stdin!.end(
      pod('follower', {
        restartPolicy: 'Never',
        containers: [box('b', 'echo one; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two; exit 6')],
      }),
    );
    let qout = '';
    q.stdout!.on('data', (d) => (qout += d));
    await until('follower up', () => qout.includes('b | one'));
    const otherPid = podRuntime(c.home, 'other').containers.t!.hostPid!;
    expect(supervisorPid(c.home)).toBe(p.pid);
    expect((await c.run(['exec', 'host', '--', 'touch', '/tmp/go'])).exitCode).toBe(0);
    expect((await p).exitCode).toBe(4);
    // A supervisor of its own now has the two pods: the same processes, and it goes on with them.
    const successor = await until('a successor', () => supervisorPid(c.home));
    expect(alive(otherPid)).toBe(true);
    expect(podRuntime(c.home, 'other').containers.t!.hostPid).toBe(otherPid);
    expect((await c.run(['exec', 'follower', '--', 'touch', '/tmp/go'])).exitCode).toBe(0);
    const r = await q;
    expect(qout).toBe('b | one\nb | two\n');
    expect(r.exitCode).toBe(6);
    const lines = (await c.run(['logs', 'other'])).stdout.split('\n');
    expect(lines).toEqual(lines.map((_, i) => `t ${i + 1}`));
    expect((await c.run(['delete', '--grace-period', '0', 'other'])).exitCode).toBe(0);
    await until('the successor exits with the last pod', () => !alive(successor));
    expect(readdirSync(join(c.home, 'pods'))).toEqual([]);
  });
});
