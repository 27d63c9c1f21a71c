import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

// Shortened kubelet back-off (the documented testing knob): 0.2 s, doubling, capped at 0.4 s.
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '0.2,0.4,600' });

describe('podbox logs and status', () => {
  it('keeps stdout and stderr per container; -c, --tail and --timestamps', async () => {
    const r = await c.run(['run', '--keep', '-'], { input: pod('lg', { restartPolicy: 'Never', containers: [box('a', 'echo one; echo two; echo three'), box('b', 'echo bee >&2')] }) });
    expect(r.exitCode).toBe(0);
    expect((await c.run(['logs', 'lg', '-c', 'a'])).stdout).toBe('one\ntwo\nthree');
    expect((await c.run(['logs', 'lg', '-c', 'a', '--tail', '1'])).stdout).toBe('three');
    // stderr is kept too, and `podbox logs` prints it on stdout as kubectl does
    expect((await c.run(['logs', 'lg', '-c', 'b', '--timestamps'])).stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z bee$/);
    const noC = await c.run(['logs', 'lg']);
    expect(noC.exitCode).toBe(1);
    expect(noC.stderr).toBe('podbox: a container name must be specified for pod lg, choose one of: [a b]: add -c NAME');
  });

  it('a crashing container restarts with back-off; restartCount, lastState and logs --previous', async () => {
    const spec = { restartPolicy: 'Always', containers: [box('crash', 'echo run $(cat /proc/sys/kernel/random/uuid); exit 2')] };
    expect((await c.run(['run', '-d', '-'], { input: pod('crashy', spec) })).exitCode).toBe(0);
    const s = await until('three restarts', async () => {
      const st = JSON.parse((await c.run(['get', 'crashy', '-o', 'json'])).stdout).status.containerStatuses[0];
      return st.restartCount >= 3 ? st : undefined;
    });
    expect(s.lastState.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
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
    const r = await c.run(['run', '--keep', '-'], { input: pod('js', { restartPolicy: 'Never', containers: [box('a', 'exit 0')] }) });
    expect(r.exitCode).toBe(0);
    const o = JSON.parse((await c.run(['get', 'js', '-o', 'json'])).stdout);
    expect(o.apiVersion).toBe('v1');
    expect(o.kind).toBe('Pod');
    expect(o.metadata.name).toBe('js');
    expect(o.spec.containers[0].name).toBe('a');
    expect(o.status.phase).toBe('Succeeded');
    expect(o.status.conditions.map((x: { type: string; status: string }) => `${x.type}=${x.status}`)).toEqual(['PodScheduled=True', 'Initialized=True', 'ContainersReady=False', 'Ready=False']);
    expect(o.status.containerStatuses[0]).toMatchObject({ name: 'a', ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    expect(o.status.startTime).toMatch(/Z$/);
    const y = await c.run(['get', 'js', '-o', 'yaml']);
    expect(y.stdout).toContain('phase: Succeeded');
    expect((await c.run(['get', '-o', 'name'])).stdout).toBe('pod/js');
  });
});
