import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { podDirs, until } from '../helpers/cli.js';
import { box, podTestHome } from '../helpers/pods.js';

/**
 * batch/v1 Jobs end to end (rootless and as root): `podbox run job.yaml` runs the Job to its end
 * and exits with its result; `run -d` hands it to a detached host; `get jobs`, `delete job`.
 * The pod-failure backoff is shortened (PODBOX_TESTING_JOB_BACKOFF) so a retry takes no 10 s.
 */
const c = podTestHome({ PODBOX_TESTING_JOB_BACKOFF: '0.1,0.5' });
// A host directory the pods share, so that exactly one pod of a Job can fail (mkdir is atomic).
const host = mkdtempSync(join(tmpdir(), 'podbox-jobs-'));

afterEach(() => {
  expect(existsSync(join(c.home, 'pods', '.workloads'))).toBe(false);
  expect(podDirs(c.home)).toEqual([]);
});
afterAll(() => rmSync(host, { recursive: true, force: true }));

function job(name: string, spec: Record<string, unknown>, script: string, pod: Record<string, unknown> = {}): string {
  const { volumes, ...podSpec } = pod;
  return JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      ...spec,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            box('main', script, volumes ? { volumeMounts: [{ name: 'shared', mountPath: '/shared' }] } : {}),
          ],
          ...(volumes ? { volumes: [{ name: 'shared', hostPath: { path: host, type: 'Directory' } }] } : {}),
          ...podSpec,
        },
      },
    },
  });
}

/** `[pod/NAME-RAND5/main] text` with the random part made X. */
const lines = (out: string) =>
  out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\[pod\/([a-z0-9-]+)-[a-z0-9]{5}\//, '[pod/$1-XXXXX/'))
    .sort();

describe('podbox run job.yaml (foreground)', () => {
  it('completions 3, parallelism 2, backoffLimit 1: one pod fails once, the Job completes, exit 0', async () => {
    const marker = `mk-${Date.now()}`;
    const script = `if mkdir /shared/${marker} 2>/dev/null; then echo failing; exit 3; fi; echo done`;
    const r = await c.run(['run', '-'], {
      input: job('three', { completions: 3, parallelism: 2, backoffLimit: 1 }, script, { volumes: true }),
    });
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual([
      '[pod/three-XXXXX/main] done',
      '[pod/three-XXXXX/main] done',
      '[pod/three-XXXXX/main] done',
      '[pod/three-XXXXX/main] failing',
    ]);
    expect(r.stderr).toBe('podbox: job.batch "three" completed: Reached expected number of succeeded pods');
  });

  it('fails with BackoffLimitExceeded once failures exceed backoffLimit, exit 1', async () => {
    const r = await c.run(['run', '-'], { input: job('fails', { backoffLimit: 1 }, 'echo no; exit 1') });
    expect(r.exitCode).toBe(1);
    expect(lines(r.stdout)).toEqual(['[pod/fails-XXXXX/main] no', '[pod/fails-XXXXX/main] no']);
    expect(r.stderr).toBe(
      'podbox: job.batch "fails" failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
    );
  });

  it('Indexed: one pod per index, named NAME-INDEX-RAND, with JOB_COMPLETION_INDEX and hostname NAME-INDEX', async () => {
    const r = await c.run(['run', '-'], {
      input: job(
        'idx',
        { completions: 3, parallelism: 3, completionMode: 'Indexed' },
        'echo "index $JOB_COMPLETION_INDEX on $(hostname)"',
      ),
    });
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual([
      '[pod/idx-0-XXXXX/main] index 0 on idx-0',
      '[pod/idx-1-XXXXX/main] index 1 on idx-1',
      '[pod/idx-2-XXXXX/main] index 2 on idx-2',
    ]);
  });

  it('activeDeadlineSeconds: the running pod is deleted and the Job fails with DeadlineExceeded', async () => {
    const start = Date.now();
    const r = await c.run(['run', '-'], {
      input: job('late', { activeDeadlineSeconds: 2 }, 'echo started; sleep 3600'),
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'podbox: job.batch "late" failed: DeadlineExceeded: Job was active longer than specified deadline',
    );
    expect(Date.now() - start).toBeLessThan(15_000);
  });

  it('SIGINT deletes the Job and its pods gracefully and exits 130', async () => {
    const p = c.spawn(['run', '-'].concat([]));
    p.stdin!.end(job('stopme', {}, 'echo up; sleep 3600'));
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until('the pod to print', () => out.includes('up'), 30_000);
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode).toBe(130);
  });

  it('refuses a Job whose template restartPolicy is Always, naming the field, and makes nothing', async () => {
    const r = await c.run(['run', '-'], { input: job('bad', {}, 'true', { restartPolicy: 'Always' }) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'podbox: stdin: job "bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": ' +
        'supported values: "OnFailure", "Never": set restartPolicy: Never (or OnFailure) in the template',
    );
  });
});

describe('podbox run -f DIR', () => {
  it("makes a directory's objects in apply order: a Job's ConfigMap from a later file is there for its pod", async () => {
    const dir = mkdtempSync(join(host, 'dir-'));
    const jobText = job('greet', {}, 'echo "$GREETING"');
    const withEnv = JSON.parse(jobText) as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    withEnv.spec.template.spec.containers[0]!.env = [
      { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'words', key: 'greeting' } } },
    ];
    writeFileSync(join(dir, 'a-job.json'), JSON.stringify(withEnv));
    writeFileSync(
      join(dir, 'b-words.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: words}\ndata: {greeting: hello from a ConfigMap}\n',
    );
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    const r = await c.run(['run', '-f', dir]);
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout)).toEqual(['[pod/greet-XXXXX/main] hello from a ConfigMap']);
  });
});

describe('podbox run -d job.yaml, get jobs, delete job', () => {
  it('podFailurePolicy Ignore on exit code 42: the failure does not count, the Job completes', async () => {
    const marker = `ig-${Date.now()}`;
    const spec = {
      backoffLimit: 0,
      podFailurePolicy: { rules: [{ action: 'Ignore', onExitCodes: { operator: 'In', values: [42] } }] },
    };
    const script = `if mkdir /shared/${marker} 2>/dev/null; then exit 42; fi; echo ok`;
    const r = await c.run(['run', '-d', '-'], { input: job('ignore', spec, script, { volumes: true }) });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'job.batch/ignore created', stderr: '' });
    await until(
      'the Job to complete',
      async () => /^ignore\s+Complete\s+1\/1\s/m.test((await c.run(['get', 'jobs'])).stdout),
      60_000,
    );
    const got = JSON.parse((await c.run(['get', 'job', 'ignore', '-o', 'json'])).stdout) as {
      kind: string;
      status: Record<string, unknown>;
    };
    expect(got.kind).toBe('Job');
    expect(got.status.succeeded).toBe(1);
    expect(got.status.failed).toBeUndefined();
    expect((got.status.conditions as { type: string }[]).map((x) => x.type)).toEqual([
      'SuccessCriteriaMet',
      'Complete',
    ]);
    // Its pods are kept until the Job is deleted: the ignored one (Error) and the one that succeeded.
    const pods = (await c.run(['get'])).stdout
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[2])
      .sort();
    expect(pods).toEqual(['Completed', 'Error']);
    expect(await c.run(['delete', 'job', 'ignore'])).toMatchObject({
      exitCode: 0,
      stdout: 'job.batch "ignore" deleted',
    });
  });

  it('ttlSecondsAfterFinished: the detached host deletes the finished Job and its pods', async () => {
    const r = await c.run(['run', '-d', '-'], { input: job('brief', { ttlSecondsAfterFinished: 1 }, 'echo hi') });
    expect(r.stdout).toBe('job.batch/brief created');
    await until(
      'the Job to be deleted after its TTL',
      async () => (await c.run(['get', 'jobs'])).stderr === 'No resources found in default namespace.',
      30_000,
    );
    expect(podDirs(c.home)).toEqual([]);
  });

  it("get jobs shows kubectl's columns; delete -f removes the Job and its pods", async () => {
    const file = join(host, 'slow.json');
    writeFileSync(file, job('slow', { completions: 2 }, 'sleep 3600'));
    expect((await c.run(['run', '-d', file])).stdout).toBe('job.batch/slow created');
    const table = await until(
      'the Job to run',
      async () => {
        const t = (await c.run(['get', 'jobs'])).stdout;
        return /^slow\s+Running\s+0\/2\s+\d+s\s+\d+s$/m.test(t) && t;
      },
      30_000,
    );
    expect(table.split('\n')[0]).toBe('NAME   STATUS    COMPLETIONS   DURATION   AGE');
    expect((await c.run(['get', 'jobs', '-o', 'name'])).stdout).toBe('job.batch/slow');
    expect(await c.run(['delete', '-f', file])).toMatchObject({ exitCode: 0, stdout: 'job.batch "slow" deleted' });
    expect((await c.run(['get', 'jobs'])).stderr).toBe('No resources found in default namespace.');
  });
});
