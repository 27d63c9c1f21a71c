import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { PODBOX, until, alive, podRecord, podDirs, podboxProcesses } from '../helpers/cli.js';

// Races and faults (issue "nothing escapes, nothing is lost", items 4, 7, 9 and 10): whatever
// happens, afterwards there is one truth: a pod exists with its supervisor, or nothing is left.
const c = podTestHome();
const sleeper = (name: string, extra: Record<string, unknown> = {}) =>
  pod(name, { terminationGracePeriodSeconds: 1, containers: [box('s', 'sleep 1000')], ...extra });

async function pidsOf(name: string): Promise<{ pause: number; supervisor: number }> {
  return until(`${name} running`, async () => {
    const r = await c.run(['inspect', name, '-o', 'json']);
    if (r.exitCode !== 0) return undefined;
    const i = JSON.parse(r.stdout);
    return i.containers.length ? { pause: i.pause.pid, supervisor: podRecord(c.home, name).supervisor.pid } : undefined;
  });
}

describe('creation and deletion are one protocol', () => {
  it('delete during run -d start-up: either the pod never existed or it is deleted; nothing keeps running', async () => {
    for (let round = 0; round < 4; round++) {
      const name = `race${round}`;
      const start = execa(PODBOX, ['run', '-d', '-'], { env: c.env, input: sleeper(name), reject: false });
      let deleted = false;
      await until(
        'delete to succeed',
        async () => {
          const r = await c.run(['delete', '--now', name]);
          if (r.exitCode === 0) deleted = r.stdout === `pod "${name}" deleted`;
          else expect(r.stderr).toBe(`podbox: pod "${name}" not found: list pods with \`podbox get\``);
          return r.exitCode === 0;
        },
        30_000,
      );
      const r = await start;
      expect(deleted).toBe(true);
      // run -d either reported the pod (then deleted) or that it was deleted while being created.
      expect([0, 1]).toContain(r.exitCode);
      expect(podDirs(c.home)).toEqual([]);
      await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
    }
  });

  it('SIGINT while the sandbox is being created: podbox exits 130 and leaves nothing', async () => {
    for (const delayMs of [0, 40, 80, 120, 160, 240, 320]) {
      const p = execa(PODBOX, ['run', '-'], { env: c.env, input: sleeper('intr'), reject: false });
      await new Promise((r) => setTimeout(r, delayMs));
      p.kill('SIGINT');
      const r = await p;
      // Before podbox has its handler in place, Node dies of the signal itself: nothing existed yet.
      expect(r.exitCode === 130 || r.signal === 'SIGINT').toBe(true);
      expect(podDirs(c.home)).toEqual([]);
      await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
    }
  });

  it('SIGHUP (its terminal closed) to a running foreground run: the pod is deleted, podbox exits 129', async () => {
    const p = execa(PODBOX, ['run', '-'], { env: c.env, input: sleeper('hup'), reject: false });
    await until('the pod to run', async () => {
      const s = await c.run(['get', 'hup', '-o', 'json']);
      return s.exitCode === 0 && JSON.parse(s.stdout).status.phase === 'Running';
    });
    p.kill('SIGHUP');
    const r = await p;
    expect(r.exitCode).toBe(129);
    expect(podDirs(c.home)).toEqual([]);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  });

  it('a pod directory without its record, and a dead claim, do not wedge the name', async () => {
    mkdirSync(join(c.home, 'pods', 'wedged'), { recursive: true });
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
    const claim = join(c.home, 'pods', `.new-wedged.${dead}.abcd`);
    mkdirSync(claim);
    expect((await c.run(['delete', 'wedged'])).stderr).toBe(
      'podbox: pod "wedged" not found: list pods with `podbox get`',
    );
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('wedged', { restartPolicy: 'Never', containers: [box('a', 'echo ok')] }),
    });
    expect(r.stdout).toBe('a | ok');
    expect(r.exitCode).toBe(0);
    expect(existsSync(claim)).toBe(false);
    expect((await c.run(['delete', 'wedged'])).exitCode).toBe(0);
  });

  it('delete A B C stops the pods together and reports each in order', async () => {
    for (const n of ['da', 'db', 'dc'])
      expect((await c.run(['run', '-d', '-'], { input: sleeper(n) })).exitCode).toBe(0);
    const pids = await Promise.all(['da', 'db', 'dc'].map(pidsOf));
    const r = await c.run(['delete', 'da', 'nope', 'db', 'dc']);
    expect(r.stdout).toBe('pod "da" deleted\npod "db" deleted\npod "dc" deleted');
    expect(r.stderr).toBe('podbox: pod "nope" not found: list pods with `podbox get`');
    expect(r.exitCode).toBe(1);
    for (const p of pids) expect(alive(p.pause)).toBe(false);
    // One supervisor served the three pods, and it exits with the last.
    expect(new Set(pids.map((p) => p.supervisor)).size).toBe(1);
    await until('the supervisor to exit', () => !alive(pids[0]!.supervisor));
  });
});

describe('faults', () => {
  it('pause killed: the pod fails at once with SandboxDied, nothing restarts into the dead sandbox', async () => {
    expect((await c.run(['run', '-d', '-'], { input: sleeper('paused') })).exitCode).toBe(0);
    const { pause } = await pidsOf('paused');
    process.kill(pause, 'SIGKILL');
    const o = await until('the pod to fail', async () => {
      const s = JSON.parse((await c.run(['get', 'paused', '-o', 'json'])).stdout).status;
      return s.phase === 'Failed' ? s : undefined;
    });
    expect(o.reason).toBe('SandboxDied');
    expect(o.message).toBe(
      `the pod's pause process (pid ${pause}) was killed by signal 9: the pod's namespaces and every container died with it`,
    );
    expect(o.containerStatuses[0].restartCount).toBe(0);
    expect(o.containerStatuses[0].state.terminated.exitCode).toBe(137);
    const d = (await c.run(['describe', 'paused'])).stdout;
    expect(d).toMatch(/Warning\s+SandboxDied\s+\S+\s+kubelet\s+the pod's pause process/);
    expect((await c.run(['get', 'paused'])).stdout).toMatch(/^paused\s+0\/1\s+Error\s+0\s+\d+s$/m);
  });

  it('its directory removed (a logout removes /run/user): the supervisor deletes the pod; the name is free', async () => {
    expect((await c.run(['run', '-d', '-'], { input: sleeper('ghost') })).exitCode).toBe(0);
    const { pause, supervisor } = await pidsOf('ghost');
    // As the user, rm cannot remove what containers own; as root it removes everything. Both count.
    rmSync(join(c.home, 'pods', 'ghost', 'pod.json'));
    await execa('rm', ['-rf', join(c.home, 'pods', 'ghost')], { reject: false });
    await until('the supervisor to stop', () => !alive(supervisor), 20_000);
    expect(alive(pause)).toBe(false);
    expect(podDirs(c.home)).toEqual([]);
    const r = await c.run(['run', '-'], {
      input: pod('ghost', { restartPolicy: 'Never', containers: [box('a', 'echo again')] }),
    });
    expect(r.stdout).toBe('a | again');
  });
});

describe("the user's supervisor socket", () => {
  it('lies in the private pods directory; a client speaking garbage is cut off, the others are served', async () => {
    expect((await c.run(['run', '-d', '-'], { input: sleeper('sock') })).exitCode).toBe(0);
    const pods = join(c.home, 'pods');
    expect(statSync(pods).mode & 0o777).toBe(0o700);
    const sock = join(pods, '.supervisor.sock');
    expect(statSync(sock).isSocket()).toBe(true);
    const s = connect(sock);
    await new Promise<void>((r) => s.once('connect', () => r()));
    const closed = new Promise<string>((r) => {
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => r(got));
    });
    s.write('{"op":"delete","name":"sock"\nnot json at all\n');
    expect(await closed).toBe('');
    // Nothing was deleted by the broken request, and the supervisor serves the next command.
    expect(JSON.parse((await c.run(['get', 'sock', '-o', 'json'])).stdout).status.phase).toBe('Running');
    expect((await c.run(['delete', 'sock'])).stdout).toBe('pod "sock" deleted');
  });
});
