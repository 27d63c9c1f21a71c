import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';
import { makeBusyboxRootfs } from '../helpers/image-archive.js';

const c = podTestHome();

/** An image of its own (a label makes its id differ from the shared busybox image's), used by one pod only. */
async function ownImage(name: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'podbox-busybox-'));
  try {
    makeBusyboxRootfs(root);
    const r = await c.run([
      'image',
      'import',
      root,
      name,
      '--change',
      `LABEL=test=${name}`,
      '--change',
      'ENV=PATH=/bin',
    ]);
    expect(r.stderr).toBe('');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const listed = async (name: string) =>
  JSON.parse((await c.run(['image', 'ls', '-o', 'json'])).stdout).some((i: { names: string[] }) =>
    i.names.includes(name),
  );
const phase = async (p: string) => JSON.parse((await c.run(['get', p, '-o', 'json'])).stdout).status.phase as string;

describe('image rm of an image a pod uses', () => {
  it('is refused while the pod runs, even with --force; the pod keeps running; after delete it succeeds', async () => {
    const img = 'localhost/inuse:running';
    await ownImage(img);
    const sleeper = pod('sleeper', { containers: [{ ...box('app', 'sleep 300'), image: img }] });
    const run = await c.run(['run', '-d', '-'], { input: sleeper });
    expect(run.stderr).toBe('');
    await until('sleeper running', async () => (await phase('sleeper')) === 'Running');

    for (const args of [
      ['image', 'rm', img],
      ['image', 'rm', '--force', img],
    ]) {
      const r = await c.run(args);
      expect(r.stderr).toBe(
        `podbox: image ${img} is in use by pod(s) sleeper: ` +
          'delete it first with `podbox delete sleeper` (--force does not remove an image a running pod uses)',
      );
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toBe('');
    }
    expect(await listed(img)).toBe(true);
    expect(await phase('sleeper')).toBe('Running');
    const exec = await c.run(['exec', 'sleeper', '--', 'cat', '/etc/group']);
    expect(exec).toMatchObject({ exitCode: 0, stdout: 'root:x:0:\nnogroup:x:65534:' });

    expect((await c.run(['delete', '--now', 'sleeper'])).exitCode).toBe(0);
    const rm = await c.run(['image', 'rm', img]);
    expect(rm.stderr).toBe('');
    expect(rm.exitCode).toBe(0);
    expect(await listed(img)).toBe(false);
  });

  it('is refused for a finished pod that was kept, naming it, unless --force', async () => {
    const img = 'localhost/inuse:kept';
    await ownImage(img);
    const done = pod('done', { restartPolicy: 'Never', containers: [{ ...box('app', 'true'), image: img }] });
    const run = await c.run(['run', '--keep', '-'], { input: done });
    expect(run.exitCode).toBe(0);

    const r = await c.run(['image', 'rm', img]);
    expect(r.stderr).toBe(
      `podbox: image ${img} is in use by pod(s) done: ` + 'delete it first with `podbox delete done`, or use --force',
    );
    expect(r.exitCode).toBe(1);
    expect(await listed(img)).toBe(true);

    const forced = await c.run(['image', 'rm', '--force', img]);
    expect(forced.stderr).toBe('');
    expect(forced.exitCode).toBe(0);
    expect(await listed(img)).toBe(false);
    expect(await phase('done')).toBe('Succeeded');
  });
});
