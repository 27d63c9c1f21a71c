import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box, IMAGE } from '../helpers/pods.js';
import { cli, podDirs, EXAMPLES } from '../helpers/cli.js';

const c = podTestHome({ CI: '' });

/** A service that ignores SIGTERM (sh as PID 1 has no handler), as a native sidecar, and a test runner. */
function serviceAndTests(name: string, tests: string, grace = 1): string {
  return pod(name, {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: grace,
    initContainers: [box('db', 'echo db up; while true; do sleep 1; done', { restartPolicy: 'Always' })],
    containers: [box('tests', tests)],
  });
}

describe('podbox run for CI jobs', () => {
  it('--timeout deletes the pod gracefully once it has passed, and the run exits 124', async () => {
    const started = Date.now();
    const r = await c.run(['run', '--summary', '--timeout', '1500ms', '-'], {
      input: pod('tmo', { terminationGracePeriodSeconds: 1, containers: [box('app', 'echo up; sleep 60')] }),
    });
    expect(r.exitCode).toBe(124);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stdout).toBe('app | up');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('podbox: stopping app: SIGTERM sent, waiting up to 1s');
    expect(lines[1]).toMatch(/^podbox: pod "tmo" \w+ in \d+s \(exit 124\): app exited 137 after \d+s, 0 restarts$/);
    expect(lines).toHaveLength(2);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('--exit-code-from NAME ends the run when NAME exits, stops the sidecar, and exits with its code', async () => {
    const r = await c.run(['run', '--summary', '--exit-code-from', 'tests', '-'], {
      input: serviceAndTests('xcf', 'echo testing; exit 7'),
    });
    expect(r.exitCode).toBe(7);
    expect(r.stdout.split('\n').sort()).toEqual(['db    | db up', 'tests | testing']);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('podbox: stopping db: SIGTERM sent, waiting up to 1s');
    expect(lines[1]).toMatch(
      /^podbox: pod "xcf" Failed in \d+s \(exit 7\): db exited 137 after \d+s, 0 restarts; tests exited 7 after \d+s, 0 restarts$/,
    );
    expect(lines).toHaveLength(2);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('--exit-code-from NAME ends a pod that would run on (NAME restarts under Always) with its first exit code', async () => {
    const r = await c.run(['run', '--exit-code-from', 'a', '-'], {
      input: pod('xcfa', {
        terminationGracePeriodSeconds: 1,
        containers: [box('a', 'exit 5'), box('b', 'sleep 60')],
      }),
    });
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toBe('');
    expect(podDirs(c.home)).toEqual([]);
  });

  it('without --summary, and with neither a terminal nor CI, stderr stays quiet', async () => {
    const r = await c.run(['run', '--exit-code-from', 'tests', '-'], { input: serviceAndTests('quiet', 'exit 0') });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('CI set: the grace-period line and the summary come without --summary', async () => {
    const ci = cli(c.home, { CI: 'true' });
    const r = await ci.run(['run', '--exit-code-from', 'tests', '-'], { input: serviceAndTests('inci', 'exit 0', 2) });
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('podbox: stopping db: SIGTERM sent, waiting up to 2s');
    expect(lines[1]).toMatch(/^podbox: pod "inci" \w+ in \d+s \(exit 0\): db exited 137 after \d+s, 0 restarts; /);
  });

  it('refuses --exit-code-from a container that is not an app container, and --timeout with -d, in one line', async () => {
    const spec = serviceAndTests('bad', 'exit 0');
    const notApp = await c.run(['run', '--exit-code-from', 'db', '-'], { input: spec });
    expect(notApp.exitCode).toBe(1);
    expect(notApp.stderr).toBe(
      'podbox: --exit-code-from "db": that is an init container of pod "bad", not an app container: ' +
        'name one of its app containers: tests',
    );
    const none = await c.run(['run', '--exit-code-from', 'nope', '-'], { input: spec });
    expect(none.stderr).toBe(
      'podbox: --exit-code-from "nope": pod "bad" has no app container of that name: name one of its app containers: tests',
    );
    const detached = await c.run(['run', '-d', '--timeout', '5s', '-'], { input: spec });
    expect(detached.exitCode).toBe(1);
    expect(detached.stderr).toBe(
      'podbox: --timeout ends a foreground run, and -d does not wait for pod "bad": leave out -d, or bound a ' +
        'detached pod with `podbox wait bad --timeout=...` and `podbox delete bad`',
    );
    const duration = await c.run(['run', '--timeout', '5 minutes', '-'], { input: spec });
    expect(duration.stderr).toBe(
      'podbox: --timeout "5 minutes" is not a positive duration: give one as kubectl does: 90s, 5m, 1h30m, 500ms',
    );
    expect(podDirs(c.home)).toEqual([]);
  });

  it('aligns prefixes to the longest container name; --timestamps adds the time each line came', async () => {
    const spec = pod('align', {
      restartPolicy: 'Never',
      initContainers: [box('i', 'echo init')],
      containers: [box('a', 'echo one'), box('longer', 'sleep 0.3; echo two')],
    });
    const r = await c.run(['run', '-'], { input: spec });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('i      | init\na      | one\nlonger | two');
    const t = await c.run(['run', '--timestamps', '-'], { input: spec });
    expect(t.stdout).toMatch(
      /^i {6}\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z init\na {6}\| \S+Z one\nlonger \| \S+Z two$/,
    );
  });

  it('colours prefixes only where wanted: FORCE_COLOR forces it, NO_COLOR (set by the tests) forbids it', async () => {
    const spec = pod('colour', { restartPolicy: 'Never', containers: [box('a', 'echo one'), box('bb', 'exit 0')] });
    const forced = await cli(c.home, { FORCE_COLOR: '1' }).run(['run', '-'], { input: spec });
    expect(forced.stdout).toBe('\x1b[36ma  |\x1b[0m one');
    const plain = await c.run(['run', '-'], { input: spec });
    expect(plain.stdout).toBe('a  | one');
  });

  it('examples/ci/pod.yaml: the service as a native sidecar stops on SIGTERM once the tests pass', async () => {
    const manifest = readFileSync(join(EXAMPLES, 'ci', 'pod.yaml'), 'utf8').replaceAll('localhost/busybox:demo', IMAGE);
    const r = await c.run(['run', '--summary', '--exit-code-from', 'tests', '--timeout', '1m', '-'], {
      input: manifest,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('tests | 1 test passed');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('podbox: stopping web: SIGTERM sent, waiting up to 3s');
    // exit 0: its trap ran (SIGKILL after the grace period would be 137)
    expect(lines[1]).toMatch(
      /^podbox: pod "ci" Succeeded in \d+s \(exit 0\): web exited 0 after \d+s, 0 restarts; tests exited 0 after \d+s, 0 restarts$/,
    );
    expect(lines).toHaveLength(2);
  });

  it("as a client of the user's supervisor (another pod runs): the same lines, the same exit code", async () => {
    const bg = await c.run(['run', '-d', '-'], {
      input: pod('bg', { terminationGracePeriodSeconds: 1, containers: [box('a', 'sleep 600')] }),
    });
    expect(bg.exitCode).toBe(0);
    const r = await c.run(['run', '--summary', '--exit-code-from', 'tests', '-'], {
      input: serviceAndTests('client', 'echo testing; exit 9'),
    });
    expect(r.exitCode).toBe(9);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('podbox: stopping db: SIGTERM sent, waiting up to 1s');
    expect(lines[1]).toMatch(
      /^podbox: pod "client" Failed in \d+s \(exit 9\): db exited 137 after \d+s, 0 restarts; tests exited 9 after \d+s, 0 restarts$/,
    );
    expect(lines).toHaveLength(2);
    expect(podDirs(c.home)).toEqual(['bg']);
  });
});
