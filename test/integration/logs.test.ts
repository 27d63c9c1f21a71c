import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until, alive, podRecord, supervisorPid, PODBOX } from '../helpers/cli.js';

// Shortened kubelet back-off (the documented testing knob): 0.2 s, doubling, capped at 0.4 s.
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '0.2,0.4,600' });

describe('podbox logs and status', () => {
  it('keeps stdout and stderr per container; -c, --tail and --timestamps', async () => {
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('lg', {
        restartPolicy: 'Never',
        containers: [box('a', 'echo one; echo two; echo three'), box('b', 'echo bee >&2')],
      }),
    });
    expect(r.exitCode).toBe(0);
    expect((await c.run(['logs', 'lg', '-c', 'a'])).stdout).toBe('one\ntwo\nthree');
    expect((await c.run(['logs', 'lg', '-c', 'a', '--tail', '1'])).stdout).toBe('three');
    // stderr is kept too, and `podbox logs` prints it on stdout as kubectl does
    expect((await c.run(['logs', 'lg', '-c', 'b', '--timestamps'])).stdout).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z bee$/,
    );
    const noC = await c.run(['logs', 'lg']);
    expect(noC.exitCode).toBe(1);
    expect(noC.stderr).toBe('podbox: a container name must be specified for pod lg, choose one of: [a b]: add -c NAME');
  });

  it('without -c: the only app container, whatever the init containers; an unknown name lists both kinds', async () => {
    const spec = {
      restartPolicy: 'Never',
      initContainers: [box('init', 'echo from init')],
      containers: [box('app', 'echo from app')],
    };
    expect((await c.run(['run', '--keep', '-'], { input: pod('onec', spec) })).exitCode).toBe(0);
    expect((await c.run(['logs', 'onec'])).stdout).toBe('from app');
    expect((await c.run(['logs', 'onec', '-c', 'init'])).stdout).toBe('from init');
    const bad = await c.run(['logs', 'onec', '-c', 'nope']);
    expect(bad.stderr).toBe(
      'podbox: container nope is not valid for pod onec: choose one of: [app] or one of the init containers: [init]',
    );
    expect(bad.exitCode).toBe(1);
  });

  it('logs of a container that has not started: one line with its waiting reason, exit 1', async () => {
    const spec = {
      terminationGracePeriodSeconds: 1,
      initContainers: [box('init', 'sleep 30')],
      containers: [box('app', 'echo hi')],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('waits', spec) })).exitCode).toBe(0);
    const r = await c.run(['logs', 'waits', '-c', 'app']);
    expect(r.stderr).toBe(
      'podbox: container "app" in pod "waits" is waiting to start: PodInitializing: see `podbox describe waits`',
    );
    expect(r.exitCode).toBe(1);
  });

  it('a crashing container restarts with back-off; restartCount, lastState and logs --previous', async () => {
    const spec = {
      restartPolicy: 'Always',
      containers: [box('crash', 'echo run $(cat /proc/sys/kernel/random/uuid); exit 2')],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('crashy', spec) })).exitCode).toBe(0);
    const s = await until('three restarts', async () => {
      const st = JSON.parse((await c.run(['get', 'crashy', '-o', 'json'])).stdout).status.containerStatuses[0];
      return st.restartCount >= 3 ? st : undefined;
    });
    expect(s.lastState.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    // the current and the previous instance's logs only, as the kubelet's container GC keeps them
    // (retried: for a moment, while the next instance starts, there are three)
    await until('two instance logs', () => {
      const files = readdirSync(join(c.home, 'pods', 'crashy', 'logs', 'crash'));
      const n = files.map((f) => Number(f.split('.')[0])).sort((a, b) => a - b);
      return n.length === 2 && n[1] === n[0]! + 1;
    });
    const prev = await c.run(['logs', 'crashy', '--previous']);
    // The current instance may have just started and not printed yet: wait for its line.
    const cur = await until('a line from the current instance', async () => {
      const r = await c.run(['logs', 'crashy']);
      return r.stdout ? r : undefined;
    });
    expect(prev.stdout).toMatch(/^run [0-9a-f-]{36}$/);
    expect(cur.stdout).toMatch(/^run [0-9a-f-]{36}$/);
    expect(prev.stdout).not.toBe(cur.stdout);
    const table = (await c.run(['get', 'crashy'])).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    // it crashes at once, so between two restarts it is briefly running (and ready: no probe)
    expect(table[1]).toMatch(/^crashy\s+(0\/1\s+(CrashLoopBackOff|Error)|1\/1\s+Running)\s+\d+ \(\d+s ago\)\s+\d+s$/);
  });

  it('get -o json prints the Pod object with the status Kubernetes sets', async () => {
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('js', { restartPolicy: 'Never', containers: [box('a', 'exit 0')] }),
    });
    expect(r.exitCode).toBe(0);
    const o = JSON.parse((await c.run(['get', 'js', '-o', 'json'])).stdout);
    expect(o.apiVersion).toBe('v1');
    expect(o.kind).toBe('Pod');
    expect(o.metadata.name).toBe('js');
    expect(o.spec.containers[0].name).toBe('a');
    expect(o.status.phase).toBe('Succeeded');
    expect(o.status.conditions.map((x: { type: string; status: string }) => `${x.type}=${x.status}`)).toEqual([
      'PodScheduled=True',
      'Initialized=True',
      'ContainersReady=False',
      'Ready=False',
    ]);
    expect(o.status.containerStatuses[0]).toMatchObject({
      name: 'a',
      ready: false,
      started: false,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    });
    expect(o.status.startTime).toMatch(/Z$/);
    const y = await c.run(['get', 'js', '-o', 'yaml']);
    expect(y.stdout).toContain('phase: Succeeded');
    expect((await c.run(['get', '-o', 'name'])).stdout).toBe('pod/js');
  });

  it('a 1 MiB line without a newline comes back whole, with one timestamp; on disk: P records, an F', async () => {
    const script = "dd if=/dev/zero bs=1024 count=1024 2>/dev/null | tr '\\000' x; echo; echo after";
    const input = pod('long', { restartPolicy: 'Never', containers: [box('a', script)] });
    expect((await c.run(['run', '--keep', '-'], { input })).exitCode).toBe(0);
    const r = await c.run(['logs', 'long']);
    expect(r.stdout).toBe(`${'x'.repeat(1024 * 1024)}\nafter`);
    const t = await c.run(['logs', 'long', '--timestamps', '--tail', '2']);
    const ts = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z';
    expect(t.stdout).toMatch(new RegExp(`^${ts} x{${1024 * 1024}}\\n${ts} after$`));
    expect((await c.run(['logs', 'long', '--tail', '1'])).stdout).toBe('after');
    // 16 KiB records, as containerd writes them: 63 partial, then the full one that ends the line
    const onDisk = readFileSync(join(c.home, 'pods', 'long', 'logs', 'a', '0.log'), 'latin1');
    const tags = onDisk
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[2]);
    expect(tags).toEqual([...Array(63).fill('P'), 'F', 'F']);
  });

  it('a log that cannot be written (file size limit, EFBIG) drops lines and counts them; the pod runs on', async () => {
    // RLIMIT_FSIZE, set with prlimit on `podbox run -d` and inherited by its supervisor, makes the
    // log write fail at a known size, rootless and without a full disk: each record is 128 bytes,
    // so 512 fit in 64 KiB and 488 of 1000 are lost. (Node ignores SIGXFSZ: the write fails EFBIG.)
    // A tmpfs that fills up would need a mount namespace around podbox, which changes what it runs as.
    const noisy =
      "x=$(printf '%076d' 0 | tr 0 x); i=1; " +
      "while [ $i -le 1000 ]; do printf 'line %05d %s\\n' $i $x; i=$((i+1)); done; exec sleep 3600";
    const quiet = 'i=0; while true; do echo tick $i; i=$((i+1)); usleep 50000; done';
    const manifest = pod('full', { containers: [box('noisy', noisy), box('quiet', quiet)] });
    // The limit reaches the supervisor only if this `run -d` starts it.
    await until('no supervisor running', () => supervisorPid(c.home) === undefined);
    const r = await execa('prlimit', ['--fsize=65536', '--', PODBOX, 'run', '-d', '-'], {
      env: c.env,
      input: manifest,
      reject: false,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const described = await until('488 lost lines in describe', async () => {
      const d = (await c.run(['describe', 'full'])).stdout;
      return /Log Lines Lost:\s+488\n/.test(d) ? d : undefined;
    });
    const message = 'Failed to write the log of container noisy, its lines were dropped: EFBIG: file too large, write';
    const event = `\\n {2}Warning {2}LogLinesLost +\\S+ \\(x488 over \\S+\\) +kubelet +${message}$`;
    expect(described).toMatch(new RegExp(event, 'm'));
    expect(described.match(/Log Lines Lost:/g)).toHaveLength(1);
    const noisyLog = (await c.run(['logs', 'full', '-c', 'noisy'])).stdout.split('\n');
    expect(noisyLog).toHaveLength(512);
    expect(noisyLog.at(-1)).toBe(`line 00512 ${'x'.repeat(76)}`);
    // The pod runs on: nothing restarted, and the other container's log still grows.
    const st = JSON.parse((await c.run(['get', 'full', '-o', 'json'])).stdout).status;
    expect(st.phase).toBe('Running');
    const states = st.containerStatuses.map((x: { name: string; restartCount: number; state: object }) => [
      x.name,
      x.restartCount,
      Object.keys(x.state)[0],
    ]);
    expect(states).toEqual([
      ['noisy', 0, 'running'],
      ['quiet', 0, 'running'],
    ]);
    const tick = async () => Number((await c.run(['logs', 'full', '-c', 'quiet', '--tail', '1'])).stdout.split(' ')[1]);
    const before = await until('a tick of quiet', async () => {
      const t = await tick();
      return Number.isInteger(t) ? t : undefined;
    });
    await until('a later tick', async () => (await tick()) > before);
  });

  it('status and events that cannot be written do not stop the pod; they are written once they can be', async () => {
    const tick = 'i=0; while true; do echo tick $i; i=$((i+1)); usleep 20000; done';
    const input = pod('nospace', { containers: [box('tick', tick)] });
    expect((await c.run(['run', '-d', '-'], { input })).exitCode).toBe(0);
    const logs = async () => (await c.run(['logs', 'nospace'])).stdout.split('\n').map((l) => Number(l.split(' ')[1]));
    await until('a first tick', async () => (await logs()).length > 0);
    // A soft RLIMIT_FSIZE of 100 bytes on the running supervisor: every write past 100 bytes fails
    // with EFBIG, the log's and status.json's alike, as on a full disk. A failed status write leaves
    // its temporary file behind: that is the sign a save failed.
    const sup = podRecord(c.home, 'nospace').supervisor.pid;
    await execa('prlimit', ['--pid', String(sup), '--fsize=100:unlimited']);
    const dir = join(c.home, 'pods', 'nospace');
    await until('a failed status write', () => readdirSync(dir).some((f) => /^status\.json\.\d+\.tmp$/.test(f)));
    await execa('prlimit', ['--pid', String(sup), '--fsize=unlimited:unlimited']);
    // Back to normal: the lost lines are exactly the gap in the ticks, and the pod never stopped.
    await until('lost lines counted', async () => {
      const n = await logs();
      const gap = n.findIndex((x, i) => i > 0 && x !== n[i - 1]! + 1);
      if (gap < 0) return false;
      const missing = n[gap]! - n[gap - 1]! - 1;
      const d = (await c.run(['describe', 'nospace'])).stdout;
      return new RegExp(`Log Lines Lost:\\s+${missing}\\n`).test(d);
    });
    expect(alive(sup)).toBe(true);
    const st = JSON.parse((await c.run(['get', 'nospace', '-o', 'json'])).stdout).status;
    const tickStatus = st.containerStatuses[0];
    expect([st.phase, tickStatus.restartCount, Object.keys(tickStatus.state)[0]]).toEqual(['Running', 0, 'running']);
  });
});
