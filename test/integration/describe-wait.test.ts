import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box, IMAGE } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

const c = podTestHome();

/** Runs a pod in the background and returns once it is created. */
async function runDetached(name: string, spec: Record<string, unknown>): Promise<void> {
  const r = await c.run(['run', '-d', '-'], { input: pod(name, spec) });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
}

/** The Events table as [type, reason, age, from, message] rows. */
function eventRows(describeOut: string): string[][] {
  const table = describeOut
    .slice(describeOut.indexOf('\nEvents:\n') + '\nEvents:\n'.length)
    .trimEnd()
    .split('\n');
  return table.map((l) => l.trim().split(/\s{2,}/));
}

// A container that stops only after 2 s when asked to (SIGTERM), so a deletion can be watched.
const SLOW_TO_STOP = 'trap "sleep 2; exit 0" TERM; while true; do sleep 0.05; done';

describe('podbox describe', () => {
  it('a finished pod: its state, exit code and restart count, and the events table', async () => {
    const r = await c.run(['run', '--keep', '-'], {
      input: pod('dsc', { restartPolicy: 'Never', containers: [box('main', 'echo hi; exit 3')] }),
    });
    expect(r.exitCode).toBe(3);
    const d = await c.run(['describe', 'dsc']);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    const out = d.stdout;
    expect(out.split('\n').slice(0, 5)).toEqual([
      'Name:             dsc',
      'Namespace:        default',
      'Priority:         0',
      'Service Account:  default',
      'Node:             podbox/127.0.0.1',
    ]);
    expect(out).toContain(
      '\nStatus:           Failed\nIP:               127.0.0.1\nIPs:\n  IP:  127.0.0.1\nContainers:\n  main:\n    Container ID:  runc://main.0\n',
    );
    expect(out).toContain(`\n    Image:         ${IMAGE}\n`);
    expect(out).toContain(
      '\n    Command:\n      sh\n      -c\n      echo hi; exit 3\n    State:          Terminated\n      Reason:       Error\n      Exit Code:    3\n',
    );
    expect(out).toMatch(
      /\n {6}Started: {6}\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n {6}Finished: {5}\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n/,
    );
    expect(out).toContain(
      '\n    Ready:          False\n    Restart Count:  0\n    Environment:    <none>\n    Mounts:         <none>\nConditions:\n',
    );
    expect(out).toContain(
      '\n  ContainersReady   False \n  Ready             False \nVolumes:            <none>\nQoS Class:          BestEffort\n',
    );
    const uid = JSON.parse((await c.run(['get', 'dsc', '-o', 'json'])).stdout).metadata.uid;
    const rows = eventRows(out);
    expect(rows[0]).toEqual(['Type', 'Reason', 'Age', 'From', 'Message']);
    expect(rows[1]).toEqual(['----', '------', '----', '----', '-------']);
    expect(rows.slice(2).map(([type, reason, , from, message]) => [type, reason, from, message])).toEqual([
      ['Normal', 'Scheduled', 'default-scheduler', 'Successfully assigned default/dsc to podbox'],
      // One machine has no cluster DNS: the kubelet's fallback (sandbox/resolv-conf.ts).
      [
        'Warning',
        'MissingClusterDNS',
        'kubelet',
        `pod: "dsc_default(${uid})". kubelet does not have ClusterDNS IP configured and cannot create Pod using ` +
          '"ClusterFirst" policy. Falling back to "Default" policy.',
      ],
      ['Normal', 'Pulled', 'kubelet', `Container image "${IMAGE}" already present on machine`],
      ['Normal', 'Created', 'kubelet', 'Created container main'],
      ['Normal', 'Started', 'kubelet', 'Started container main'],
    ]);
    for (const row of rows.slice(2)) expect(row[2]).toMatch(/^\d+s$/);
  });

  it('a missing pod is one line on stderr', async () => {
    const r = await c.run(['describe', 'nope']);
    expect(r).toEqual({ exitCode: 1, stdout: '', stderr: 'podbox: pod "nope" not found: list pods with `podbox get`' });
  });
});

describe('podbox wait', () => {
  it("--for=condition=Ready on a running pod; a condition not met times out with kubectl's line", async () => {
    await runDetached('wr', { containers: [box('main', SLOW_TO_STOP)] });
    const ready = await c.run(['wait', 'wr', '--for=condition=Ready', '--timeout=20s']);
    expect(ready).toEqual({ exitCode: 0, stdout: 'pod/wr condition met', stderr: '' });
    // condition names and values are case-insensitive, as kubectl's; pod/NAME is accepted
    expect(await c.run(['wait', 'pod/wr', '--for=condition=ready=TRUE', '--timeout=0'])).toEqual({
      exitCode: 0,
      stdout: 'pod/wr condition met',
      stderr: '',
    });
    expect(await c.run(['wait', 'wr', '--for', 'jsonpath={.status.containerStatuses[0].ready}=true'])).toEqual({
      exitCode: 0,
      stdout: 'pod/wr condition met',
      stderr: '',
    });

    const t0 = Date.now();
    const late = await c.run(['wait', 'wr', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=500ms']);
    expect(late).toEqual({ exitCode: 1, stdout: '', stderr: 'podbox: timed out waiting for the condition on pods/wr' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(await c.run(['wait', 'wr', '--for=condition=Ready=False', '--timeout=0'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'podbox: condition not met for pods/wr',
    });
  });

  it("--for=jsonpath='{.status.phase}'=Succeeded on a pod that exits 0; several --for in turn", async () => {
    // (the arguments as a shell passes them, quotes removed)
    await runDetached('wj', { restartPolicy: 'Never', containers: [box('main', 'sleep 0.5; exit 0')] });
    const r = await c.run([
      'wait',
      'wj',
      '--for=jsonpath={.status.phase}=Succeeded',
      '--for=jsonpath={.status.containerStatuses[0].state.terminated.reason}=Completed',
      '--timeout=20s',
    ]);
    expect(r).toEqual({ exitCode: 0, stdout: 'pod/wj condition met\npod/wj condition met', stderr: '' });
    expect(JSON.parse((await c.run(['get', 'wj', '-o', 'json'])).stdout).status.phase).toBe('Succeeded');
  });

  it('--for=delete returns when `podbox delete` has removed the pod', async () => {
    await runDetached('wd', { containers: [box('main', SLOW_TO_STOP)] });
    await c.run(['wait', 'wd', '--for=condition=Ready', '--timeout=20s']);
    const deleting = c.spawn(['delete', 'wd']);
    // The delete has been asked for; the container takes 2 s to stop.
    await until('wd terminating', async () => (await c.run(['get', 'wd'])).stdout.includes('Terminating'));
    const waiting = c.spawn(['wait', 'wd', '--for=delete', '--timeout=30s']);
    const d = await until('the Killing event', async () => {
      const r = await c.run(['describe', 'wd']);
      return eventRows(r.stdout).some((row) => row[1] === 'Killing') && r.stdout;
    });
    // kubectl shows the time since deletionTimestamp (the request plus the grace period): <invalid> before it.
    expect(d).toContain('\nStatus:                    Terminating (lasts <invalid>)\nTermination Grace Period:  30s\n');
    expect(d).toMatch(/\n {2}Normal +Killing +/);
    const [del, w] = await Promise.all([deleting, waiting]);
    expect([del.exitCode, del.stdout, del.stderr]).toEqual([0, 'pod "wd" deleted', '']);
    expect([w.exitCode, w.stdout, w.stderr]).toEqual([0, 'pod/wd condition met', '']);
  });

  it('--for=condition=Ready then --for=delete: each line as its condition is met', async () => {
    await runDetached('wcd', { containers: [box('main', SLOW_TO_STOP)] });
    const waiting = c.spawn(['wait', 'wcd', '--for=condition=Ready', '--for=delete', '--timeout=30s']);
    let out = '';
    waiting.stdout!.on('data', (b) => (out += b));
    await until('Ready reported', () => out === 'pod/wcd condition met\n');
    expect((await c.run(['delete', 'wcd'])).exitCode).toBe(0);
    const w = await waiting;
    expect([w.exitCode, w.stdout, w.stderr]).toEqual([0, 'pod/wcd condition met\npod/wcd condition met', '']);
  });

  it('a missing pod: --for=delete has nothing to wait for; anything else is an error', async () => {
    expect(await c.run(['wait', 'gone', '--for=delete'])).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(await c.run(['wait', 'gone', '--for=condition=Ready'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'podbox: pod "gone" not found: list pods with `podbox get`',
    });
    expect(await c.run(['wait', 'gone', '--for=create', '--timeout=200ms'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'podbox: timed out waiting for the condition on pods/gone',
    });
    expect(await c.run(['wait', 'gone', '--for=ready'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: unrecognized condition: "ready": use --for=condition=NAME[=VALUE], --for=delete, --for=create or --for=jsonpath='{.status.phase}'=VALUE`,
    });
    expect(await c.run(['wait', 'gone', '--for=delete', '--timeout=soon'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'podbox: --timeout soon is not a duration: give e.g. --timeout=30s, 1m or 500ms (0 checks once)',
    });
  });
});
