import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { PODBOX } from '../helpers/cli.js';

const c = podTestHome();

/** The id maps a pod gets, worked out here from /etc/subuid and /etc/subgid, apart from podbox's code. */
function expectedMaps(): { by: string; uid: string; gid: string } {
  if (process.getuid!() === 0)
    return { by: 'podbox directly, as root', uid: '0→0 (65536 ids)', gid: '0→0 (65536 ids)' };
  const first = (file: string, id: number) => {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [owner, start, count] = line.split(':');
      if (owner === userInfo().username || owner === String(id)) return { start: Number(start), count: Number(count) };
    }
    throw new Error(`no range in ${file}`);
  };
  const map = (file: string, id: number) => {
    const r = first(file, id);
    return `0→${id} (1 id), 1→${r.start} (${Math.min(r.count, 65535)} ids)`;
  };
  return { by: 'newuidmap', uid: map('/etc/subuid', process.getuid!()), gid: map('/etc/subgid', process.getgid!()) };
}

interface TextLine {
  elapsed: number;
  step: string;
  text: string;
}

/** `trace  +0.012s  userns    created ...`: every line of stderr must be one. */
function textLines(stderr: string): TextLine[] {
  return stderr.split('\n').map((l) => {
    const m = /^trace {2,3}\+(\d+\.\d{3})s {2}(\S+) +(.*)$/.exec(l);
    if (!m) throw new Error(`not a trace line: ${JSON.stringify(l)}`);
    return { elapsed: Number(m[1]), step: m[2]!, text: m[3]! };
  });
}

type Inspect = {
  pause: { pid: number; namespaces: Record<string, number> };
  containers: { name: string; pid: number; namespaces: Record<string, number> }[];
};

const POD_NS = ['user', 'mnt', 'pid', 'net', 'ipc', 'uts'];

describe('podbox run --trace', () => {
  it('says each kernel step in order, with the real id maps, pids, inodes and paths', async () => {
    const r = await c.run(['run', '--trace', '-'], {
      input: pod('tr', { restartPolicy: 'Never', containers: [box('app', 'echo hi')] }),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('app | hi');
    const lines = textLines(r.stderr);
    // Times only go forward.
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.elapsed).toBeGreaterThanOrEqual(lines[i - 1]!.elapsed);
    const at = (step: string, re: RegExp): [number, RegExpExecArray] => {
      const i = lines.findIndex((l) => l.step === step && re.test(l.text));
      if (i < 0) throw new Error(`no ${step} line matching ${re}:\n${r.stderr}`);
      return [i, re.exec(lines[i]!.text)!];
    };
    const maps = expectedMaps();
    const [userns, u] = at('userns', /^created user namespace (\d+) \(pid (\d+), pause\)/);
    const [inode, pausePid] = [u[1]!, u[2]!];
    const [uidMap] = at('idmap', new RegExp(`^uid map of user namespace ${inode} written by ${maps.by}.*: (.*)$`));
    expect(lines[uidMap]!.text.endsWith(`: ${maps.uid}`)).toBe(true);
    const [gidMap] = at('idmap', new RegExp(`^gid map of user namespace ${inode} written by`));
    expect(lines[gidMap]!.text.endsWith(`: ${maps.gid}`)).toBe(true);
    const [pause] = at(
      'pause',
      new RegExp(`^pause started: host pid ${pausePid}, PID 1 of the pod's new PID namespace`),
    );
    const podDir = join(c.home, 'pods', 'tr');
    const layer = join(podDir, 'containers', 'app', 'layer');
    const [overlay] = at(
      'mount',
      new RegExp(`^overlay on ${podDir}/containers/app/rootfs: lowerdir=\\S+/rootfs .*upperdir=${layer}/upper `),
    );
    const [bundle] = at('bundle', new RegExp(`^app: wrote ${podDir}/containers/app/config.json`));
    const [joins] = at('ns', new RegExp(`^app: joins net namespace \\d+ by path /proc/1/ns/net`));
    const [runc] = at('runc', /^runc run --detach app\.0 \(pid \d+/);
    const [exited] = at('exited', /^app: app\.0 \(pid \d+ in the pod\) exited with code 0/);
    const [signal] = at('signal', new RegExp(`^SIGTERM to pause \\(pid ${pausePid}\\)`));
    const [released] = at('released', new RegExp(`^user namespace ${inode} released by pause`));
    const [removed] = at('remove', new RegExp(`^removed ${podDir} `));
    const order = [userns, uidMap, gidMap, pause, overlay, bundle, joins, runc, exited, signal, released, removed];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('-d --trace=json: steps as JSON up to created, the inodes `inspect` shows; delete traces the teardown', async () => {
    const r = await c.run(['run', '-d', '--trace=json', '-'], {
      input: pod('trd', { restartPolicy: 'Never', containers: [box('app', 'sleep 60')] }),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('trd');
    const events = r.stderr.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of events) {
      expect(e.pod).toBe('trd');
      expect(typeof e.step).toBe('string');
      expect(typeof e.text).toBe('string');
      expect(new Date(e.ts as string).toISOString()).toBe(e.ts);
    }
    // Up to created: the container runs, nothing of a teardown.
    expect(events.at(-1)!.step).toBe('started');
    expect(events.some((e) => e.step === 'signal' || e.step === 'released')).toBe(false);

    const info = JSON.parse((await c.run(['inspect', 'trd', '-o', 'json'])).stdout) as Inspect;
    for (const ns of POD_NS) {
      const created = events.find(
        (e) => (e.step === 'userns' || e.step === 'ns') && e.ns === ns && String(e.text).startsWith('created'),
      );
      expect(created, ns).toMatchObject({ pid: info.pause.pid, inode: info.pause.namespaces[ns] });
    }
    expect(events.find((e) => e.step === 'pause')).toMatchObject({ pid: info.pause.pid });
    const started = events.find((e) => e.step === 'started')!;
    expect(started).toMatchObject({ container: 'app', pid: info.containers[0]!.pid });
    expect((started.detail as { namespaces: unknown }).namespaces).toEqual(info.containers[0]!.namespaces);
    const overlay = events.find(
      (e) => e.step === 'mount' && (e.detail as { fstype?: string } | undefined)?.fstype === 'overlay',
    )!;
    expect((overlay.detail as { data: string }).data).toContain(
      `upperdir=${join(c.home, 'pods', 'trd', 'containers', 'app', 'layer', 'upper')},`,
    );

    const del = await execa(PODBOX, ['delete', '--now', 'trd'], {
      env: { ...c.env, PODBOX_TRACE: 'json' },
      reject: false,
      timeout: 60_000,
    });
    expect(del.exitCode).toBe(0);
    expect(del.stdout).toBe('pod "trd" deleted');
    const teardown = del.stderr.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = teardown.map((e) => e.step);
    expect(steps.indexOf('runc')).toBeLessThan(steps.indexOf('signal'));
    expect(teardown.find((e) => e.step === 'signal')).toMatchObject({ pid: info.pause.pid });
    for (const ns of POD_NS) {
      expect(teardown.find((e) => e.step === 'released' && e.ns === ns)).toMatchObject({
        inode: info.pause.namespaces[ns],
      });
    }
    expect(teardown.at(-1)).toMatchObject({ step: 'remove', detail: { path: join(c.home, 'pods', 'trd') } });
    expect(existsSync(join(c.home, 'pods', 'trd'))).toBe(false);
  });

  it('without --trace (or with PODBOX_TRACE=0) nothing more is printed', async () => {
    const input = pod('plain', { restartPolicy: 'Never', containers: [box('app', 'echo hi')] });
    const r = await c.run(['run', '-'], { input });
    expect({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({
      exitCode: 0,
      stdout: 'app | hi',
      stderr: '',
    });
    const off = await execa(PODBOX, ['run', '-'], { env: { ...c.env, PODBOX_TRACE: '0' }, input, reject: false });
    expect({ exitCode: off.exitCode, stdout: off.stdout, stderr: off.stderr }).toEqual({
      exitCode: 0,
      stdout: 'app | hi',
      stderr: '',
    });
  });
});
