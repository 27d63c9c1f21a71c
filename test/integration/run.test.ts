import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { podTestHome, pod, box, IMAGE } from '../helpers/pods.js';
import { podDirs, EXAMPLES, until, alive, supervisorPid } from '../helpers/cli.js';

const c = podTestHome();

describe('podbox run in the foreground', () => {
  it('runs the demo: init writes a page, web serves it, client fetches it over localhost', async () => {
    const demo = (await import('node:fs'))
      .readFileSync(join(EXAMPLES, 'demo-pod.yaml'), 'utf8')
      .replaceAll('localhost/busybox:demo', IMAGE);
    const r = await c.run(['run', '-'], { input: demo });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toContain('client     | <h1>Hello from pod demo, written by an init container</h1>');
    expect(r.stdout.split('\n')).toContain('web        | serving /www on :8080');
    expect(podDirs(c.home)).toEqual([]);
  });

  it('exits with the exit code of the first failed container in spec order', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('codes', { restartPolicy: 'Never', containers: [box('a', 'sleep 0.2; exit 3'), box('b', 'exit 4')] }),
    });
    expect(r.exitCode).toBe(3);
  });

  it('a failing init container under Never fails the pod and no app container starts', async () => {
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('initfail', {
        restartPolicy: 'Never',
        initContainers: [box('init', 'echo init ran; exit 5')],
        containers: [box('app', 'echo app ran')],
      }),
    });
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toBe('init | init ran');
    const status = JSON.parse((await c.run(['get', 'initfail', '-o', 'json'])).stdout).status;
    expect(status.phase).toBe('Failed');
    expect(status.initContainerStatuses[0].state.terminated).toMatchObject({ exitCode: 5, reason: 'Error' });
    expect(status.containerStatuses[0].state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(status.containerStatuses[0].restartCount).toBe(0);
  });

  it('runs init containers one at a time, in order, before the app containers', async () => {
    const spec = {
      restartPolicy: 'Never',
      volumes: [{ name: 'v', emptyDir: {} }],
      initContainers: [
        box('one', 'echo one >> /v/order', { volumeMounts: [{ name: 'v', mountPath: '/v' }] }),
        box('two', 'sleep 0.1; echo two >> /v/order', { volumeMounts: [{ name: 'v', mountPath: '/v' }] }),
      ],
      containers: [box('app', 'cat /v/order', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
    };
    const r = await c.run(['run', '-'], { input: pod('order', spec) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('app | one\napp | two');
  });

  it('gives the process command, args, env and workingDir', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'p',
          image: IMAGE,
          command: ['sh', '-c'],
          args: ['echo "$GREETING $0 $(pwd)"', 'arg0'],
          workingDir: '/tmp',
          env: [{ name: 'GREETING', value: 'hi' }],
        },
      ],
    };
    const r = await c.run(['run', '-'], { input: pod('proc', spec) });
    expect(r.stdout).toBe('p | hi arg0 /tmp');
    expect(r.exitCode).toBe(0);
  });
});

describe('bad input: one line on stderr, non-zero, nothing left', () => {
  it('malformed YAML', async () => {
    const r = await c.run(['run', '-'], { input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: x\n' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'podbox: stdin: line 4, column 1: Flow map in block collection must be sufficiently indented and end with a }: fix the YAML',
    );
    expect(podDirs(c.home)).toEqual([]);
  });

  it('a pod whose name exists is refused; --replace replaces it', async () => {
    const manifest = pod('twice', { terminationGracePeriodSeconds: 1, containers: [box('s', 'sleep 30')] });
    expect((await c.run(['run', '-d', '-'], { input: manifest })).stdout).toBe('twice');
    const again = await c.run(['run', '-d', '-'], { input: manifest });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe(
      'podbox: pod "twice" already exists: delete it with `podbox delete twice` or run with --replace',
    );
    const replaced = await c.run(['run', '-d', '--replace', '-'], { input: manifest });
    expect(replaced.stdout).toBe('twice');
    expect(replaced.exitCode).toBe(0);
  });

  it('a foreground run refused for a name a running pod has leaves that pod supervised', async () => {
    const manifest = pod('held', { terminationGracePeriodSeconds: 1, containers: [box('s', 'sleep 30')] });
    expect((await c.run(['run', '-d', '-'], { input: manifest })).stdout).toBe('held');
    // No supervisor now: the foreground run becomes it, adopts "held", and is refused its name.
    const first = supervisorPid(c.home)!;
    process.kill(first, 'SIGKILL');
    await until('the supervisor gone', () => !alive(first));
    const again = await c.run(['run', '-'], { input: manifest });
    expect(again.stderr).toBe(
      'podbox: pod "held" already exists: delete it with `podbox delete held` or run with --replace',
    );
    expect(again.exitCode).toBe(1);
    // It handed "held" over: a supervisor of its own runs it.
    const successor = supervisorPid(c.home);
    expect(successor !== undefined && successor !== first && alive(successor)).toBe(true);
    expect(JSON.parse((await c.run(['get', 'held', '-o', 'json'])).stdout).status.phase).toBe('Running');
  });

  it('an unknown field is refused with its path', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('typo', { containers: [{ name: 'a', image: IMAGE, imagee: 'x' }] }),
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'podbox: stdin: pod "typo" is invalid: spec.containers[0].imagee: unknown field: remove it or fix its spelling (`kubectl explain pod.spec.containers` lists the fields)',
    );
    expect(podDirs(c.home)).toEqual([]);
  });
});

describe('podbox exec', () => {
  it("runs in the named container with podbox's stdio and exits with the command's status", async () => {
    const spec = {
      containers: [box('a', 'echo in-a > /tmp/where; sleep 60'), box('b', 'echo in-b > /tmp/where; sleep 60')],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('ex', spec) })).exitCode).toBe(0);
    await until('both running', async () => {
      const st = JSON.parse((await c.run(['get', 'ex', '-o', 'json'])).stdout).status.containerStatuses;
      return st.every((s: { state: { running?: unknown } }) => s.state.running) || undefined;
    });
    const b = await until('b wrote its mark', async () => {
      const r = await c.run(['exec', 'ex', '-c', 'b', '--', 'cat', '/tmp/where']);
      return r.exitCode === 0 ? r : undefined;
    });
    expect(b).toEqual({ exitCode: 0, stdout: 'in-b', stderr: '' });
    expect(await c.run(['exec', 'ex', '-c', 'a', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({
      exitCode: 3,
      stdout: 'out',
      stderr: 'err',
    });
    const missing = await c.run(['exec', 'ex', '-c', 'a', '--', 'no-such-command']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toBe(
      'exec failed: unable to start container process: exec: "no-such-command": executable file not found in $PATH',
    );
    const noC = await c.run(['exec', 'ex', '--', 'true']);
    expect(noC.exitCode).toBe(1);
    expect(noC.stderr).toBe('podbox: a container name must be specified for pod ex, choose one of: [a b]: add -c NAME');
  });
});
