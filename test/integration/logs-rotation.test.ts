import { describe, it, expect } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';

// Small limits so a few hundred lines rotate several times (kubelet defaults: 10Mi × 5).
const c = podTestHome({ PODBOX_CONTAINER_LOG_MAX_SIZE: '4Ki', PODBOX_CONTAINER_LOG_MAX_FILES: '5' });
const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i)).join('\n');

describe('container log rotation (containerLogMaxSize × containerLogMaxFiles)', () => {
  it('keeps at most MaxFiles files of at most MaxSize; logs shows the last lines in order; --tail 1', async () => {
    const input = pod('rot', { restartPolicy: 'Never', containers: [box('a', 'seq 1 3000')] });
    const r = await c.run(['run', '--keep', '-'], { input });
    expect(r.exitCode).toBe(0);
    const dir = join(c.home, 'pods', 'rot', 'logs', 'a');
    const files = readdirSync(dir);
    expect(files.length).toBe(5);
    expect(files.filter((f) => /^0\.log\.\d{8}-\d{6}(-\d+)?$/.test(f))).toHaveLength(4);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(4096);
    const lines = (await c.run(['logs', 'rot'])).stdout.split('\n');
    // every line of the kept files, oldest first: a run of consecutive numbers ending at 3000
    expect(lines.length).toBeGreaterThan((4 * 4096) / 50);
    expect(lines.join('\n')).toBe(seq(3001 - lines.length, 3000));
    expect((await c.run(['logs', 'rot', '--tail', '1'])).stdout).toBe('3000');
    expect((await c.run(['logs', 'rot', '--tail', '200'])).stdout).toBe(seq(2801, 3000));
  });

  it('logs -f goes on across rotations', async () => {
    // About 45 bytes a line, 5 ms apart: a rotation every ~0.5 s, several while `logs -f` polls.
    const script = 'sleep 0.5; i=1; while [ $i -le 300 ]; do echo $i; i=$((i+1)); usleep 5000; done';
    const input = pod('fol', { restartPolicy: 'Never', containers: [box('a', script)] });
    expect((await c.run(['run', '-d', '-'], { input })).exitCode).toBe(0);
    const f = await c.run(['logs', '-f', 'fol']);
    expect(f.exitCode).toBe(0);
    expect(f.stdout).toBe(seq(1, 300));
    const dir = join(c.home, 'pods', 'fol', 'logs', 'a');
    expect(readdirSync(dir).length).toBeGreaterThan(2);
  });
});
