import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { execa } from 'execa';
import { alive, podDirs, podboxProcesses, supervisorPid, until, EXAMPLES } from '../helpers/cli.js';

// Image back-off 2 s doubling to 8 s (and the syncs with it: 0.2 s after a failure, then every 2 s).
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '2,8,600' });

/** Nothing listens on port 1 of 127.0.0.1: every pull fails at once with a refused connection. */
const UNREACHABLE = 'localhost:1/nothing:1';
const ABSENT = 'localhost/absent:1';

interface Event {
  type: string;
  reason: string;
  message: string;
  count: number;
}

/** The pod's status and events as its supervisor last saved them (read together, cheaply, often). */
function saved(name: string): { status: Record<string, any>; events: Event[] } | undefined {
  try {
    const dir = join(c.home, 'pods', name);
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).status;
    // (but the DNS fallback warning every ClusterFirst pod has: dns.test.ts checks that one)
    const events = (JSON.parse(readFileSync(join(dir, 'events.json'), 'utf8')) as Event[]).filter(
      (e) => e.reason !== 'MissingClusterDNS',
    );
    return { status, events };
  } catch {
    return undefined;
  }
}

const count = (events: Event[], reason: string, message: string) =>
  events.find((e) => e.reason === reason && e.message === message)?.count ?? 0;

async function runDetached(name: string, spec: Record<string, unknown>): Promise<void> {
  expect(await c.run(['run', '-d', '-'], { input: pod(name, spec) })).toEqual({
    exitCode: 0,
    stdout: name,
    stderr: '',
  });
}

describe('a missing image: the pod is created and its container waits, as the kubelet does', () => {
  it('Never: ErrImageNeverPull in get, describe and -o json, with its events; delete leaves nothing', async () => {
    await runDetached('never', {
      containers: [{ ...box('app', 'sleep 60'), image: ABSENT, imagePullPolicy: 'Never' }],
    });
    const message = `Container image "${ABSENT}" is not present with pull policy of Never`;
    const s = await until('ErrImageNeverPull', () => {
      const v = saved('never');
      return v?.status.containerStatuses[0].state.waiting?.reason === 'ErrImageNeverPull' && v;
    });
    expect(s.status.phase).toBe('Pending');
    expect(s.status.containerStatuses[0].state).toEqual({ waiting: { reason: 'ErrImageNeverPull', message } });

    const json = JSON.parse((await c.run(['get', 'never', '-o', 'json'])).stdout);
    expect(json.status.phase).toBe('Pending');
    expect(json.status.containerStatuses[0].state).toEqual({ waiting: { reason: 'ErrImageNeverPull', message } });
    const table = (await c.run(['get', 'never'])).stdout.split('\n');
    expect(table[1]!.split(/\s+/).slice(0, 4)).toEqual(['never', '0/1', 'ErrImageNeverPull', '0']);
    const d = (await c.run(['describe', 'never'])).stdout;
    expect(d).toContain('\n    State:          Waiting\n      Reason:       ErrImageNeverPull\n');
    expect(d).toMatch(new RegExp(`\\n  Warning  ErrImageNeverPull  .+ {2}kubelet {12}${escape(message)}\\n`));
    expect(d).toMatch(/\n {2}Warning {2}Failed {13}.+ {2}kubelet {12}Error: ErrImageNeverPull(\n|$)/);

    expect(await c.run(['delete', 'never'])).toEqual({ exitCode: 0, stdout: 'pod "never" deleted', stderr: '' });
    expect(podDirs(c.home)).toEqual([]);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  });

  it('IfNotPresent and a registry that does not answer: ErrImagePull, then ImagePullBackOff, retried at 2 s, 4 s, 8 s', async () => {
    await runDetached('unreach', { containers: [{ ...box('app', 'sleep 60'), image: UNREACHABLE }] });
    const pulling = `Pulling image "${UNREACHABLE}"`;
    const backOff = `Back-off pulling image "${UNREACHABLE}"`;
    // When each pull began (its Pulling event's count moving), seen by polling the saved events.
    const pulls: number[] = [];
    // (Events alone decide when: status.json and events.json are written one after the other.)
    const third = await until(
      'the third pull failed and is backing off',
      () => {
        const v = saved('unreach');
        if (!v) return false;
        const n = count(v.events, 'Pulling', pulling);
        while (pulls.length < n) pulls.push(Date.now());
        return n === 3 && count(v.events, 'BackOff', backOff) === 4 && v;
      },
      30_000,
    );
    // The state of the same moment: 4 s of back-off after the third failure are not over.
    third.status = saved('unreach')!.status;
    expect(third.status.phase).toBe('Pending');
    expect(third.status.containerStatuses[0]).toMatchObject({
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason: 'ImagePullBackOff', message: backOff } },
    });
    // The back-off grows: 2 s, then 4 s between pulls (a poll every 25 ms sees each within ~0.1 s).
    // (The first pull began just before `run -d` returned, a little before the first poll.)
    expect(pulls[1]! - pulls[0]!).toBeGreaterThanOrEqual(1500);
    expect(pulls[1]! - pulls[0]!).toBeLessThan(3000);
    expect(pulls[2]! - pulls[1]!).toBeGreaterThanOrEqual(3900);
    expect(pulls[2]! - pulls[1]!).toBeLessThan(5000);
    // Each failure: Failed "Failed to pull image", Failed "Error: ErrImagePull"; each sync in the
    // back-off: BackOff, Failed "Error: ImagePullBackOff" (after 2 s: one; after 4 s: two; then one so far).
    const failed = third.events.find((e) => e.reason === 'Failed' && e.message.startsWith('Failed to pull image'))!;
    expect(failed.message.startsWith(`Failed to pull image "${UNREACHABLE}": `)).toBe(true);
    expect(
      third.events.map((e) => [
        e.type,
        e.reason,
        e.message === failed.message ? 'Failed to pull…' : e.message,
        e.count,
      ]),
    ).toEqual([
      ['Normal', 'Scheduled', 'Successfully assigned default/unreach to podbox', 1],
      ['Normal', 'Pulling', pulling, 3],
      ['Warning', 'Failed', 'Failed to pull…', 3],
      ['Warning', 'Failed', 'Error: ErrImagePull', 3],
      ['Normal', 'BackOff', backOff, 4],
      ['Warning', 'Failed', 'Error: ImagePullBackOff', 4],
    ]);
    const json = JSON.parse((await c.run(['get', 'unreach', '-o', 'json'])).stdout);
    expect(json.status.phase).toBe('Pending');
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(json.status.containerStatuses[0].state.waiting.reason);

    // Deleted while backing off (or pulling): at once, and nothing is left.
    expect(await c.run(['delete', 'unreach'])).toEqual({ exitCode: 0, stdout: 'pod "unreach" deleted', stderr: '' });
    expect(podDirs(c.home)).toEqual([]);
    await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
  }, 60_000);

  it('deleted while pulling from a registry that never answers: the pull stops, nothing is left', async () => {
    // A "registry" that accepts connections and never says a word.
    const held = new Set<Socket>();
    const server = createServer((sock) => {
      held.add(sock);
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const image = `127.0.0.1:${port}/silent:1`;
      await runDetached('silent', { containers: [{ ...box('app', 'sleep 60'), image }] });
      await until('its Pulling event', () =>
        saved('silent')?.events.some((e) => e.reason === 'Pulling' && e.message === `Pulling image "${image}"`),
      );
      const t0 = Date.now();
      expect(await c.run(['delete', 'silent'])).toEqual({ exitCode: 0, stdout: 'pod "silent" deleted', stderr: '' });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(podDirs(c.home)).toEqual([]);
      await until('no podbox process left', () => podboxProcesses(c.home).length === 0);
      // Nothing half-pulled stays in the store.
      const tmp = join(c.home, 'images', 'tmp');
      expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    } finally {
      for (const sock of held) sock.destroy();
      server.close();
    }
  });

  it('a successor supervisor resumes a pod waiting on its image; an image loaded meanwhile is used', async () => {
    const image = 'localhost/later:1';
    const spec = {
      restartPolicy: 'Never',
      containers: [{ ...box('app', 'echo started'), image, imagePullPolicy: 'Never' }],
    };
    await runDetached('later', spec);
    await until(
      'ErrImageNeverPull',
      () => saved('later')?.status.containerStatuses[0].state.waiting?.reason === 'ErrImageNeverPull',
    );
    const supervisor = supervisorPid(c.home)!;
    process.kill(supervisor, 'SIGKILL');
    await until('the supervisor gone', () => !alive(supervisor));
    try {
      await execa('sh', [join(EXAMPLES, 'busybox-image.sh'), image], { env: c.env });
      // `get` starts a supervisor, which adopts the pod and finds the image at its next look.
      await until(
        'the pod Succeeded',
        async () => JSON.parse((await c.run(['get', 'later', '-o', 'json'])).stdout).status.phase === 'Succeeded',
        30_000,
      );
      expect(supervisorPid(c.home)).not.toBe(supervisor);
      expect((await c.run(['logs', 'later'])).stdout).toBe('started');
      const events = saved('later')!.events.map((e) => [e.reason, e.message]);
      expect(events.slice(-3)).toEqual([
        ['Pulled', `Container image "${image}" already present on machine`],
        ['Created', 'Created container app'],
        ['Started', 'Started container app'],
      ]);
      expect(await c.run(['delete', 'later'])).toMatchObject({ exitCode: 0 });
    } finally {
      await c.run(['image', 'rm', image]);
    }
  }, 60_000);

  it('a foreground run says so in one line, and keeps waiting until interrupted', async () => {
    const run = c.spawn(['run', '-']);
    run.stdin!.end(pod('fg', { containers: [{ ...box('app', 'true'), image: ABSENT, imagePullPolicy: 'Never' }] }));
    const line = `app | podbox: ErrImageNeverPull: Container image "${ABSENT}" is not present with pull policy of Never; retrying`;
    let stderr = '';
    run.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    await until('the line', () => stderr.includes(line));
    run.kill('SIGINT');
    const r = await run;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toBe(line);
    expect(podDirs(c.home)).toEqual([]);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
