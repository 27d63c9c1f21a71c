import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

// Back-off shortened to 0.2 s doubling to 1 s (the documented testing knob) so restarts are quick.
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '0.2,1,600' });

interface Status {
  phase: string;
  reason?: string;
  conditions: { type: string; status: string }[];
  initContainerStatuses?: {
    name: string;
    ready: boolean;
    started: boolean;
    restartCount: number;
    state: Record<string, Record<string, unknown>>;
  }[];
  containerStatuses: {
    name: string;
    ready: boolean;
    started: boolean;
    restartCount: number;
    state: Record<string, Record<string, unknown>>;
    lastState: Record<string, Record<string, unknown>>;
  }[];
}

async function status(name: string): Promise<Status> {
  const r = await c.run(['get', name, '-o', 'json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout).status;
}

async function events(name: string): Promise<{ type: string; reason: string; message: string; count: number }[]> {
  const e = await c.run(['get', name, '-o', 'json']);
  expect(e.exitCode).toBe(0);
  // events.json beside status.json, as `podbox describe` reads it
  const { readFileSync } = await import('node:fs');
  return JSON.parse(readFileSync(`${c.home}/pods/${name}/events.json`, 'utf8'));
}

const condition = (s: Status, type: string) => s.conditions.find((x) => x.type === type)?.status;

describe('probes, run by podbox from the host side', () => {
  it('a liveness probe on a file the container deletes restarts it', async () => {
    // sh as PID 1 ignores SIGTERM: the probe's own terminationGracePeriodSeconds bounds the kill.
    const spec = {
      containers: [
        box('app', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600', {
          livenessProbe: {
            exec: { command: ['cat', '/tmp/healthy'] },
            initialDelaySeconds: 1,
            periodSeconds: 1,
            failureThreshold: 2,
            terminationGracePeriodSeconds: 1,
          },
        }),
      ],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('live', spec) })).exitCode).toBe(0);
    const s = await until(
      'a restart',
      async () => {
        const st = (await status('live')).containerStatuses[0]!;
        return st.restartCount >= 1 ? st : undefined;
      },
      30_000,
    );
    expect(s.lastState.terminated).toMatchObject({ reason: 'Error' });
    const ev = await events('live');
    expect(ev.find((e) => e.reason === 'Killing')).toMatchObject({
      type: 'Normal',
      message: 'Container app failed liveness probe, will be restarted',
    });
    expect(ev.find((e) => e.reason === 'Unhealthy')?.message).toBe(
      "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory",
    );
  });

  it('a readiness probe (httpGet to an app bound to 127.0.0.1 in the pod) gates Ready', async () => {
    const spec = {
      containers: [
        box('web', 'mkdir -p /www && httpd -f -p 127.0.0.1:8080 -h /www', {
          readinessProbe: { httpGet: { path: '/ready.html', port: 'http' }, periodSeconds: 1 },
          ports: [{ name: 'http', containerPort: 8080 }],
        }),
      ],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('ready', spec) })).exitCode).toBe(0);
    const notFound = 'Readiness probe failed: HTTP probe failed with statuscode: 404';
    await until('a 404 from the readiness probe', async () =>
      (await events('ready')).find((e) => e.message === notFound),
    );
    const before = await status('ready');
    expect(before.containerStatuses[0]).toMatchObject({ ready: false, started: true });
    expect(condition(before, 'Ready')).toBe('False');
    expect((await c.run(['exec', 'ready', '--', 'touch', '/www/ready.html'])).exitCode).toBe(0);
    const after = await until('Ready', async () => {
      const st = await status('ready');
      return condition(st, 'Ready') === 'True' ? st : undefined;
    });
    expect(after.containerStatuses[0]!.ready).toBe(true);
    expect(condition(after, 'ContainersReady')).toBe('True');
  });
});

describe('lifecycle hooks', () => {
  it('postStart writes a file the main process reads; its output is in the log, marked', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [
        box('app', 'until [ -e /tmp/from-hook ]; do sleep 0.02; done; cat /tmp/from-hook', {
          lifecycle: {
            postStart: {
              exec: { command: ['sh', '-c', 'echo written-by-postStart > /tmp/from-hook; echo hook says hi'] },
            },
          },
        }),
      ],
    };
    const r = await c.run(['run', '--keep', '-'], { input: pod('post', spec) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('app | written-by-postStart');
    const logs = (await c.run(['logs', 'post'])).stdout.split('\n');
    expect(logs).toContain('[postStart hook] hook says hi');
    expect(logs).toContain('written-by-postStart');
  });

  it('a failing postStart kills the container: FailedPostStartHook, then the restart policy', async () => {
    const spec = {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [
        box('app', 'sleep 600', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo nope; exit 3'] } } } }),
      ],
    };
    const r = await c.run(['run', '--keep', '-'], { input: pod('badhook', spec) });
    expect(r.exitCode).not.toBe(0);
    const ev = await events('badhook');
    const failed = ev.find((e) => e.reason === 'FailedPostStartHook');
    expect(failed?.type).toBe('Warning');
    expect(failed?.message).toMatch(
      /^Exec lifecycle hook \(\[sh -c echo nope; exit 3\]\) for Container "app" in Pod "badhook_default\([0-9a-f-]+\)" failed - error: command 'sh -c echo nope; exit 3' exited with 3: , message: "nope\\n"$/,
    );
    expect((await status('badhook')).phase).toBe('Failed');
  });

  it('preStop runs before the stop signal reaches the process', async () => {
    const spec = {
      containers: [
        box('app', 'trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.05; done', {
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo preStop ran > /proc/1/fd/1'] } } },
        }),
      ],
    };
    const p = c.spawn(['run', '-', '--keep']);
    p.stdin!.end(pod('pre', spec));
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await until('ready line', () => out.includes('app | ready'));
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(143);
    const lines = out.split('\n');
    expect(lines.indexOf('app | preStop ran')).toBeGreaterThan(-1);
    expect(lines.indexOf('app | got TERM')).toBeGreaterThan(lines.indexOf('app | preStop ran'));
  });
});

describe('native sidecars and deadlines', () => {
  it('a sidecar serves an emptyDir file to the app; it is stopped after the app exits 0 and the pod Succeeds', async () => {
    const spec = {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 2, // httpd as PID 1 ignores SIGTERM
      volumes: [{ name: 'www', emptyDir: {} }],
      initContainers: [
        box('write', 'echo served-by-sidecar > /www/index.html', {
          volumeMounts: [{ name: 'www', mountPath: '/www' }],
        }),
        box('server', 'httpd -f -p 127.0.0.1:8080 -h /www', {
          restartPolicy: 'Always',
          volumeMounts: [{ name: 'www', mountPath: '/www' }],
          startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        }),
      ],
      containers: [box('app', 'wget -q -O- http://127.0.0.1:8080/')],
    };
    const r = await c.run(['run', '--keep', '-'], { input: pod('side', spec) });
    expect(r.stdout).toBe('app    | served-by-sidecar');
    expect(r.exitCode).toBe(0);
    const s = await status('side');
    expect(s.phase).toBe('Succeeded');
    expect(s.initContainerStatuses!.map((x) => [x.name, Object.keys(x.state)[0]])).toEqual([
      ['write', 'terminated'],
      ['server', 'terminated'],
    ]);
    expect(s.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('activeDeadlineSeconds fails the pod with DeadlineExceeded', async () => {
    const spec = { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 1, containers: [box('app', 'sleep 600')] };
    const r = await c.run(['run', '--keep', '-'], { input: pod('deadline', spec) });
    expect(r.exitCode).toBe(137); // sh as PID 1 ignores SIGTERM: SIGKILL after the grace period
    const s = await status('deadline');
    expect(s).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
    expect((await events('deadline')).find((e) => e.reason === 'DeadlineExceeded')?.message).toBe(
      'Pod was active on the node longer than the specified deadline',
    );
  });

  it('activeDeadlineSeconds: Failed is published only with the container terminated (kill first, then publish)', async () => {
    const spec = { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 3, containers: [box('app', 'sleep 600')] };
    expect((await c.run(['run', '-d', '-'], { input: pod('guard', spec) })).exitCode).toBe(0);
    const seen: { phase: string; state: string }[] = [];
    const s = await until(
      'the pod Failed',
      async () => {
        const st = await status('guard');
        seen.push({ phase: st.phase, state: Object.keys(st.containerStatuses[0]!.state)[0]! });
        return st.phase === 'Failed' && st;
      },
      20_000,
    );
    // sh ignores SIGTERM: for the 3 s grace period the container was being killed, still Running
    expect(seen.filter((x) => x.phase === 'Failed' && x.state !== 'terminated')).toEqual([]);
    expect(s.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    expect(s).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
  });

  it('a container that crashes three times shows restartCount 3 and the growing back-off', async () => {
    const spec = { containers: [box('crash', 'exit 1')] };
    expect((await c.run(['run', '-d', '-'], { input: pod('loop', spec) })).exitCode).toBe(0);
    const messages = new Set<string>();
    await until(
      'three restarts',
      async () => {
        const st = (await status('loop')).containerStatuses[0]!;
        const w = st.state.waiting;
        if (w?.reason === 'CrashLoopBackOff') messages.add(String(w.message).replace(/ restarting.*/, ''));
        return st.restartCount >= 3 || undefined;
      },
      30_000,
    );
    expect([...messages].every((m) => /^back-off (0\.2|0\.4|0\.8|1)s$/.test(m))).toBe(true);
    const backoff = (await events('loop')).find((e) => e.reason === 'BackOff');
    expect(backoff?.type).toBe('Warning');
    expect(backoff!.count).toBeGreaterThanOrEqual(2);
  });
});
