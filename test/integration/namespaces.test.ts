import { describe, it, expect } from 'vitest';
import { statSync } from 'node:fs';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

const c = podTestHome();

type Inspect = {
  pause: { pid: number; namespaces: Record<string, number> };
  containers: { name: string; pid: number; namespaces: Record<string, number> }[];
  shared: Record<string, boolean>;
};

async function inspectWhenRunning(name: string, containers: number): Promise<Inspect> {
  return until(`${containers} containers of ${name} running`, async () => {
    const r = await c.run(['inspect', name, '-o', 'json']);
    if (r.exitCode !== 0) return undefined;
    const i = JSON.parse(r.stdout) as Inspect;
    return i.containers.length === containers ? i : undefined;
  });
}

describe('namespaces as Kubernetes defines them', () => {
  it('containers share user, net, ipc and uts with pause; each has its own pid and mnt', async () => {
    expect(
      (
        await c.run(['run', '-d', '-'], {
          input: pod('ns', { containers: [box('a', 'sleep 60'), box('b', 'sleep 60')] }),
        })
      ).exitCode,
    ).toBe(0);
    const i = await inspectWhenRunning('ns', 2);
    const [a, b] = i.containers;
    for (const ns of ['user', 'net', 'ipc', 'uts']) {
      expect(a!.namespaces[ns]).toBe(i.pause.namespaces[ns]);
      expect(b!.namespaces[ns]).toBe(i.pause.namespaces[ns]);
    }
    for (const ns of ['pid', 'mnt']) {
      expect(a!.namespaces[ns]).not.toBe(i.pause.namespaces[ns]);
      expect(a!.namespaces[ns]).not.toBe(b!.namespaces[ns]);
    }
    // and none of them is the host's (this test process's)
    for (const ns of ['user', 'net', 'ipc', 'uts', 'pid', 'mnt']) {
      expect(i.pause.namespaces[ns]).not.toBe(statSync(`/proc/self/ns/${ns}`).ino);
    }
    expect(i.shared).toMatchObject({ user: true, net: true, ipc: true, uts: true, pid: false, mnt: false });
  });

  it("shareProcessNamespace: containers join pause's PID namespace and see each other", async () => {
    const spec = { shareProcessNamespace: true, containers: [box('a', 'sleep 60'), box('b', 'sleep 60')] };
    expect((await c.run(['run', '-d', '-'], { input: pod('sharedpid', spec) })).exitCode).toBe(0);
    const i = await inspectWhenRunning('sharedpid', 2);
    expect(i.containers.map((x) => x.namespaces.pid)).toEqual([i.pause.namespaces.pid, i.pause.namespaces.pid]);
    const ps = await c.run([
      'exec',
      'sharedpid',
      '-c',
      'a',
      '--',
      'sh',
      '-c',
      'cat /proc/1/cmdline | tr "\\0" " "; echo; ps -o comm | sort | uniq -c | tr -s " "',
    ]);
    expect(ps.exitCode).toBe(0);
    expect(ps.stdout.split('\n')[0]).toMatch(/pause -r 3 -e 4 $/);
  });

  it("the hostname is the pod name (or spec.hostname); /etc/hosts is the kubelet's", async () => {
    const spec = {
      restartPolicy: 'Never',
      hostname: 'box1',
      hostAliases: [{ ip: '10.0.0.9', hostnames: ['db.local'] }],
      containers: [
        box('a', 'hostname; cat /etc/hostname; grep box1 /etc/hosts; tail -1 /etc/hosts; head -1 /etc/hosts'),
      ],
    };
    const r = await c.run(['run', '-'], { input: pod('hn', spec) });
    expect(r.stdout).toBe(
      'a | box1\na | box1\na | 127.0.0.1\tbox1\na | 10.0.0.9\tdb.local\na | # Kubernetes-managed hosts file.',
    );
    expect(r.exitCode).toBe(0);
  });

  it('containers talk over localhost', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [
        box('server', 'echo pong | nc -l -p 7000 127.0.0.1 >/dev/null'),
        box('client', 'until nc 127.0.0.1 7000 </dev/null; do sleep 0.02; done'),
      ],
    };
    const r = await c.run(['run', '-'], { input: pod('lo', spec), timeout: 20_000 });
    expect(r.stdout).toBe('client | pong');
    expect(r.exitCode).toBe(0);
  });
});
