import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { alive, podDirs, podRuntime, supervisorPid, until } from '../helpers/cli.js';

const c = podTestHome();

// Ends at once on SIGTERM, so a replacement or a stop takes no grace period.
const SLEEPER = "trap 'exit 0' TERM; sleep 1000 & wait";
let dir: string;
let serves: ReturnType<typeof c.spawn>[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(c.home, 'manifests-'));
});
afterEach(async () => {
  // A serve a failed test left: stopped (it deletes its pods) before the pods are checked.
  for (const s of serves) if (s.exitCode === undefined && s.pid) s.kill('SIGTERM');
  await Promise.all(serves);
  serves = [];
  rmSync(dir, { recursive: true, force: true });
});

/** A manifest put in place as an editor saves one: written aside (a dotfile, ignored), then renamed. */
function put(file: string, text: string): void {
  writeFileSync(join(dir, '.saving'), text);
  renameSync(join(dir, '.saving'), join(dir, file));
}

function manifest(name: string, script = SLEEPER, metadata: Record<string, unknown> = {}): string {
  return pod(name, { terminationGracePeriodSeconds: 5, containers: [box('app', script)] }, metadata);
}

interface Stored {
  pod: { metadata: { uid: string; labels?: Record<string, string>; annotations: Record<string, string> } };
}
function stored(name: string): Stored | undefined {
  try {
    return JSON.parse(readFileSync(join(c.home, 'pods', name, 'pod.json'), 'utf8'));
  } catch {
    return undefined;
  }
}
function phase(name: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(c.home, 'pods', name, 'status.json'), 'utf8')).status.phase;
  } catch {
    return undefined;
  }
}
/** The uid of pod `name` once it runs. */
const runningUid = (name: string) => phase(name) === 'Running' && stored(name)?.pod.metadata.uid;

/** `podbox serve DIR` in the foreground, its stderr lines kept as they come. */
function serve(args: string[] = []) {
  const p = c.spawn(['serve', dir, ...args]);
  serves.push(p);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = () => err.split('\n').filter(Boolean);
  const started = until('serve to start', () => lines().includes(`podbox serve: serving ${dir}`));
  return { p, lines, started, said: (line: string) => until(line, () => lines().includes(line)) };
}

describe('podbox serve DIR: static pods', () => {
  it('runs each manifest; a changed pod (spec or metadata) is replaced, a removed file deletes its pod', async () => {
    put('.hidden.yaml', manifest('hidden'));
    put('notes.txt', 'not a pod');
    const s = serve();
    await s.started;

    put('web.yaml', manifest('web', SLEEPER, { labels: { tier: 'one' } }));
    const uid1 = await until('web-podbox to run', () => runningUid('web-podbox'));
    const hash1 = stored('web-podbox')!.pod.metadata.annotations['kubernetes.io/config.hash'];
    expect(uid1).toBe(hash1);
    expect(uid1).toMatch(/^[0-9a-f]{32}$/);
    const { 'kubernetes.io/config.seen': seen, ...annotations } = stored('web-podbox')!.pod.metadata.annotations;
    expect(annotations).toEqual({
      'kubernetes.io/config.source': 'file',
      'kubernetes.io/config.hash': uid1,
      'kubernetes.io/config.mirror': uid1,
      'podbox.dev/static-pod-path': dir,
      'podbox.dev/static-pod-file': 'web.yaml',
    });
    expect(Date.parse(seen!)).toBeGreaterThan(Date.now() - 60_000);
    const described = (await c.run(['describe', 'web-podbox'])).stdout;
    expect(described).toContain('\nControlled By:  Node/podbox\n');

    // A spec change: the old pod deleted, a new one (a new uid) made.
    put('web.yaml', manifest('web', `echo v2; ${SLEEPER}`, { labels: { tier: 'one' } }));
    const uid2 = await until(
      'web-podbox replaced',
      () => runningUid('web-podbox') !== uid1 && runningUid('web-podbox'),
    );
    // A label alone changes the hash too (the kubelet hashes the whole pod): replaced again.
    put('web.yaml', manifest('web', `echo v2; ${SLEEPER}`, { labels: { tier: 'two' } }));
    const uid3 = await until(
      'web-podbox relabelled',
      () => runningUid('web-podbox') !== uid2 && runningUid('web-podbox'),
    );
    expect(stored('web-podbox')!.pod.metadata.labels).toEqual({ tier: 'two' });
    // The same pod written another way (keys reordered, YAML for JSON, a comment): the same hash, kept.
    put(
      'web.yaml',
      [
        '# the same pod',
        'kind: Pod',
        'apiVersion: v1',
        'spec:',
        '  containers:',
        `  - {name: app, image: localhost/busybox:test, command: [sh, -c, "echo v2; ${SLEEPER}"]}`,
        '  terminationGracePeriodSeconds: 5',
        'metadata: {name: web, labels: {tier: two}}',
        '',
      ].join('\n'),
    );
    const pause = podRuntime(c.home, 'web-podbox').pause!.pid;

    // A broken file beside it: reported, the other pod left alone.
    put('bad.yaml', 'kind: Pod\nmetadata: {name: bad\n');
    await until('bad.yaml reported', () => s.lines().some((l) => l.startsWith(`podbox serve: ${dir}/bad.yaml: `)));
    // web.yaml broken in turn: its pod keeps running, and gets an event saying why.
    put('web.yaml', 'kind: Pod\nspec: [\n');
    await until('web.yaml reported', () => s.lines().some((l) => l.startsWith(`podbox serve: ${dir}/web.yaml: `)));
    await until('the event', () =>
      readFileSync(join(c.home, 'pods', 'web-podbox', 'events.json'), 'utf8').includes('InvalidManifest'),
    );
    expect(runningUid('web-podbox')).toBe(uid3);
    expect(podRuntime(c.home, 'web-podbox').pause!.pid).toBe(pause);
    expect(alive(pause)).toBe(true);

    rmSync(join(dir, 'web.yaml'));
    await until('web-podbox deleted', () => !existsSync(join(c.home, 'pods', 'web-podbox')));
    expect(podDirs(c.home)).toEqual([]);
    s.p.kill('SIGTERM');
    expect((await s.p).exitCode).toBe(0);
    const problem = (file: string) => s.lines().find((l) => l.startsWith(`podbox serve: ${dir}/${file}: `))!;
    expect(s.lines()).toEqual([
      `podbox serve: serving ${dir}`,
      'podbox serve: pod "web-podbox" created from web.yaml',
      'podbox serve: pod "web-podbox": web.yaml changed: replacing it',
      'podbox serve: pod "web-podbox" created from web.yaml',
      'podbox serve: pod "web-podbox": web.yaml changed: replacing it',
      'podbox serve: pod "web-podbox" created from web.yaml',
      problem('bad.yaml'),
      problem('web.yaml'),
      'podbox serve: pod "web-podbox" deleted: file removed',
      `podbox serve: stopped serving ${dir}`,
    ]);
    expect(problem('bad.yaml')).toMatch(/: fix the YAML$/);
  });

  it('killed (SIGKILL) and started again: adopts unchanged pods, replaces changed ones, deletes removed ones', async () => {
    put('a.yaml', manifest('a'));
    put('b.yaml', manifest('b'));
    put('c.yaml', manifest('c'));
    const first = serve();
    await first.started;
    const uidA = await until('a', () => runningUid('a-podbox'));
    const uidB = await until('b', () => runningUid('b-podbox'));
    await until('c', () => runningUid('c-podbox'));
    const pauseA = podRuntime(c.home, 'a-podbox').pause!.pid;
    first.p.kill('SIGKILL');
    await first.p;
    // Its pods outlive it (the user's supervisor supervises them).
    expect(runningUid('a-podbox')).toBe(uidA);

    put('b.yaml', manifest('b', `echo new; ${SLEEPER}`));
    rmSync(join(dir, 'c.yaml'));
    const second = serve();
    await second.started;
    await until('b replaced', () => runningUid('b-podbox') !== uidB && runningUid('b-podbox'));
    await until('c deleted', () => !existsSync(join(c.home, 'pods', 'c-podbox')));
    expect(runningUid('a-podbox')).toBe(uidA);
    expect(podRuntime(c.home, 'a-podbox').pause!.pid).toBe(pauseA);
    second.p.kill('SIGINT');
    expect((await second.p).exitCode).toBe(0);
    // What happens to different pods at once comes in either order.
    const lines = second.lines();
    expect(lines.length).toBe(7);
    expect(lines[0]).toBe(`podbox serve: serving ${dir}`);
    expect(lines.slice(1, 4).sort()).toEqual([
      'podbox serve: pod "b-podbox" created from b.yaml',
      'podbox serve: pod "b-podbox": b.yaml changed: replacing it',
      'podbox serve: pod "c-podbox" deleted: file removed',
    ]);
    expect(lines.indexOf('podbox serve: pod "b-podbox": b.yaml changed: replacing it')).toBeLessThan(
      lines.indexOf('podbox serve: pod "b-podbox" created from b.yaml'),
    );
    expect(lines.slice(4, 6).sort()).toEqual([
      'podbox serve: pod "a-podbox" deleted: serve stopped',
      'podbox serve: pod "b-podbox" deleted: serve stopped',
    ]);
    expect(lines[6]).toBe(`podbox serve: stopped serving ${dir}`);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('--keep-pods leaves the pods to a later serve (-d), which adopts them; a second serve of DIR is refused', async () => {
    put('a.yaml', manifest('a'));
    const first = serve(['--keep-pods']);
    await first.started;
    const uid = await until('a', () => runningUid('a-podbox'));
    first.p.kill('SIGTERM');
    expect((await first.p).exitCode).toBe(0);
    expect(first.lines().at(-1)).toBe(`podbox serve: stopped serving ${dir}: its pods are left running`);
    expect(runningUid('a-podbox')).toBe(uid);

    const d = await c.run(['serve', '-d', dir]);
    expect(d.exitCode).toBe(0);
    expect(d.stderr).toBe('');
    const [line1, line2] = d.stdout.split('\n');
    const pid = Number(/^serving .* in the background \(pid (\d+)\); log: .*serve\.log$/.exec(line1!)![1]);
    expect(line1).toBe(`serving ${dir} in the background (pid ${pid}); log: ${logOf(line1!)}`);
    expect(line2).toBe(
      `stop it with: podbox serve --stop ${dir}   (add --keep-pods when starting it to leave the pods running)`,
    );

    const again = await c.run(['serve', dir]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe(
      `podbox: ${dir} is already served by podbox serve (pid ${pid}): ` +
        `stop that one first (\`podbox serve --stop ${dir}\`), or serve another directory`,
    );
    const againDetached = await c.run(['serve', '-d', dir]);
    expect(againDetached).toEqual({ exitCode: 1, stdout: '', stderr: again.stderr });
    expect(runningUid('a-podbox')).toBe(uid);

    const stop = await c.run(['serve', '--stop', dir]);
    expect(stop).toEqual({ exitCode: 0, stdout: `stopped serving ${dir}`, stderr: '' });
    expect(alive(pid)).toBe(false);
    expect(podDirs(c.home)).toEqual([]);
    const log = readFileSync(logOf(line1!), 'utf8').replace(/^\S+ /gm, '');
    expect(log).toBe(`serving ${dir}\npod "a-podbox" deleted: serve stopped\nstopped serving ${dir}\n`);
    expect(await c.run(['serve', '--stop', dir])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: ${dir} is not served: start serving it with \`podbox serve -d DIR\``,
    });
  });

  it('makes again a pod whose processes died with no supervisor to see it (as after a reboot)', async () => {
    put('a.yaml', manifest('a'));
    const first = serve(['--keep-pods']);
    await first.started;
    const uid = await until('a', () => runningUid('a-podbox'));
    first.p.kill('SIGTERM');
    await first.p;
    // The user's supervisor, then the pod's pause, killed: the pod is lost (`get` says Unknown).
    process.kill(supervisorPid(c.home)!, 'SIGKILL');
    await until('the supervisor gone', () => supervisorPid(c.home) === undefined);
    const pause = podRuntime(c.home, 'a-podbox').pause!.pid;
    process.kill(pause, 'SIGKILL');
    await until('pause gone', () => !alive(pause));

    const second = serve();
    await second.started;
    await second.said('podbox serve: pod "a-podbox": its processes are gone: replacing it');
    await until(
      'a-podbox made again',
      () => runningUid('a-podbox') === uid && podRuntime(c.home, 'a-podbox').pause!.pid !== pause,
    );
    second.p.kill('SIGTERM');
    expect((await second.p).exitCode).toBe(0);
    expect(podDirs(c.home)).toEqual([]);
  });

  it('refuses what is not a directory', async () => {
    expect(await c.run(['serve', join(dir, 'nothing')])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: ${join(dir, 'nothing')} is not a directory: give the directory of your Pod manifests`,
    });
  });

  it('a deleted static pod comes back while its file exists; --force keeps it deleted until the pod in its file changes', async () => {
    put('a.yaml', manifest('a'));
    const s = serve();
    await s.started;
    const uid = await until('a', () => runningUid('a-podbox'));
    const pause = podRuntime(c.home, 'a-podbox').pause!.pid;

    const del = await c.run(['delete', 'a-podbox']);
    expect(del).toEqual({
      exitCode: 0,
      stdout: 'pod "a-podbox" deleted',
      stderr:
        `Warning: pod "a-podbox" is a static pod of ${dir}/a.yaml: \`podbox serve\` makes it again while the file ` +
        'exists (remove the file to delete it for good, or delete with --force to keep it deleted until the file changes)',
    });
    // Made again, with the same uid (the same file, the same hash), in a new sandbox.
    await until(
      'a-podbox again',
      () => runningUid('a-podbox') === uid && podRuntime(c.home, 'a-podbox').pause!.pid !== pause,
    );

    const forced = await c.run(['delete', '--force', 'a-podbox']);
    expect(forced).toEqual({
      exitCode: 0,
      stdout: 'pod "a-podbox" deleted',
      stderr: `Warning: pod "a-podbox" is a static pod of ${dir}/a.yaml: kept deleted until the file changes or \`podbox serve\` restarts`,
    });
    // A rescan for certain: another pod's file is added, and made, and a-podbox is not.
    put('b.yaml', manifest('b'));
    await until('b', () => runningUid('b-podbox'));
    expect(existsSync(join(c.home, 'pods', 'a-podbox'))).toBe(false);
    put('a.yaml', manifest('a', `echo changed; ${SLEEPER}`));
    await until('a-podbox made from the new file', () => runningUid('a-podbox') !== uid && runningUid('a-podbox'));

    s.p.kill('SIGTERM');
    expect((await s.p).exitCode).toBe(0);
    expect(podDirs(c.home)).toEqual([]);
  });
});

function logOf(line: string): string {
  return /; log: (.*)$/.exec(line)![1]!;
}
