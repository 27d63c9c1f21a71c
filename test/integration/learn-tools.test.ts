import { describe, it, expect } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

const c = podTestHome();

type Proc = { name: string; pid: number; namespaces: Record<string, number> };
type Inspect = { pause: Proc; containers: Proc[] };

async function runningPod(name: string, containers: string[]): Promise<Inspect> {
  const spec = { terminationGracePeriodSeconds: 1, containers: containers.map((n) => box(n, 'sleep 600')) };
  const r = await c.run(['run', '-d', '-'], { input: pod(name, spec) });
  expect(r.stderr).toBe('');
  return until(`${name} running`, async () => {
    const i = await c.run(['inspect', name, '-o', 'json']);
    if (i.exitCode !== 0) return undefined;
    const info = JSON.parse(i.stdout) as Inspect;
    return info.containers.length === containers.length ? info : undefined;
  });
}

describe('podbox enter: host programs in a pod’s namespaces', () => {
  it("by default joins pause's user, net, ipc, uts and pid namespaces, with a /proc of that PID namespace", async () => {
    const i = await runningPod('ent', ['a']);
    const ns = i.pause.namespaces;
    const r = await c.run([
      'enter',
      'ent',
      '--',
      'readlink',
      ...['net', 'ipc', 'uts', 'pid', 'user', 'mnt'].map((n) => `/proc/self/ns/${n}`),
      '/proc/1/ns/net',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      `net:[${ns.net}]`,
      `ipc:[${ns.ipc}]`,
      `uts:[${ns.uts}]`,
      `pid:[${ns.pid}]`,
      `user:[${ns.user}]`,
      // a mount namespace of its own (for its /proc), neither the host's nor the pod's
      expect.not.stringMatching(new RegExp(`mnt:\\[(${ns.mnt}|${statSync('/proc/self/ns/mnt').ino})\\]`)),
      // PID 1 of that /proc is pause, in the pod's network namespace
      `net:[${ns.net}]`,
    ]);
    // The host's own `sh`, its exit status passed on
    const sh = await c.run(['enter', 'ent', '--', 'sh', '-c', 'hostname; exit 7']);
    expect(sh).toMatchObject({ exitCode: 7, stdout: 'ent', stderr: '' });
  });

  it("-c NAME joins that container's namespaces; --ns picks some; mnt runs a program of the container's", async () => {
    const i = await runningPod('entc', ['a', 'b']);
    const a = i.containers.find((x) => x.name === 'a')!;
    const pid = await c.run(['enter', 'entc', '-c', 'a', '--', 'readlink', '/proc/self/ns/pid']);
    expect(pid.stdout).toBe(`pid:[${a.namespaces.pid}]`);
    expect(a.namespaces.pid).not.toBe(i.pause.namespaces.pid);

    const netOnly = await c.run([
      'enter',
      'entc',
      '--ns',
      'net',
      '--',
      'readlink',
      '/proc/self/ns/net',
      '/proc/self/ns/uts',
    ]);
    expect(netOnly.stdout).toBe(`net:[${i.pause.namespaces.net}]\nuts:[${statSync('/proc/self/ns/uts').ino}]`);

    // busybox's readlink, from the container's root
    const mnt = await c.run(['enter', 'entc', '-c', 'a', '--ns', 'mnt,pid', '--', 'readlink', '/proc/self/ns/mnt']);
    expect(mnt).toMatchObject({ exitCode: 0, stdout: `mnt:[${a.namespaces.mnt}]`, stderr: '' });
  });

  it('says in one line what is wrong: an unknown namespace, a missing program, a pod that is not there', async () => {
    await runningPod('entbad', ['a']);
    const ns = await c.run(['enter', 'entbad', '--ns', 'net,time', '--', 'true']);
    expect(ns).toMatchObject({
      exitCode: 1,
      stderr: 'podbox: --ns "net,time": "time" is not a namespace podbox enters: name some of user,net,ipc,uts,pid,mnt',
    });
    const prog = await c.run(['enter', 'entbad', '--', 'no-such-program']);
    expect(prog).toMatchObject({
      exitCode: 1,
      stderr: 'podbox: pod "entbad": "no-such-program" not found in PATH: give its path',
    });
    const none = await c.run(['enter', 'nothere', '--', 'true']);
    expect(none.exitCode).toBe(1);
    expect(none.stderr.split('\n')).toHaveLength(1);
  });
});

describe('podbox inspect --oci and -o dot', () => {
  it("--oci prints the container's bundle config.json as runc was given it", async () => {
    await runningPod('oci', ['a', 'b']);
    const r = await c.run(['inspect', 'oci', '-c', 'b', '--oci']);
    expect(r.exitCode).toBe(0);
    const bundle = readFileSync(join(c.home, 'pods', 'oci', 'containers', 'b', 'config.json'), 'utf8');
    expect(r.stdout).toBe(bundle);
    expect(JSON.parse(r.stdout).process.args).toEqual(['sh', '-c', 'sleep 600']);
    const which = await c.run(['inspect', 'oci', '--oci']);
    expect(which.stderr).toBe(
      'podbox: a container name must be specified for pod oci, choose one of: [a b]: add -c NAME',
    );
  });

  it('-o dot: pause and containers as nodes, one box per namespace inode, shared ones filled with every edge', async () => {
    const i = await runningPod('dot', ['a', 'b']);
    const r = await c.run(['inspect', 'dot', '-o', 'dot']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('digraph "pod dot" {');
    expect(lines.at(-1)).toBe('}');
    const procs = [i.pause, ...i.containers];
    for (const p of procs) expect(lines).toContain(`  "${p.name}" [shape=ellipse, label="${p.name}\\npid ${p.pid}"];`);
    const boxes = lines.filter((l) => l.includes('[shape=box'));
    const edges = lines.filter((l) => l.includes(' -> '));
    expect(edges).toHaveLength(procs.reduce((n, p) => n + Object.keys(p.namespaces).length, 0));
    for (const kind of ['user', 'net', 'ipc', 'uts']) {
      const ino = i.pause.namespaces[kind];
      expect(boxes.filter((b) => b.includes(`"${kind}:`))).toEqual([
        `    "${kind}:${ino}" [shape=box, label="${kind}\\n${ino}", style=filled, fillcolor="lightblue"];`,
      ]);
      expect(edges.filter((e) => e.endsWith(`-> "${kind}:${ino}";`))).toEqual(
        procs.map((p) => `  "${p.name}" -> "${kind}:${ino}";`),
      );
    }
    for (const kind of ['pid', 'mnt']) {
      const own = boxes.filter((b) => b.includes(`"${kind}:`));
      expect(own).toHaveLength(3);
      for (const b of own) expect(b).not.toContain('filled');
    }
  });
});
