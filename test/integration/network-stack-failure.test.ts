import { describe, it, expect, afterAll } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { networkClaims } from '../helpers/cli.js';

// A pasta that fails as a real one does without a tun device: first on PATH for this home's supervisor
// (started by the first `run` of this file, with this environment).
const dir = mkdtempSync(join(tmpdir(), 'podbox-fake-pasta-'));
writeFileSync(join(dir, 'pasta'), '#!/bin/sh\necho "Failed to open() /dev/net/tun: Permission denied" >&2\nexit 1\n');
chmodSync(join(dir, 'pasta'), 0o755);
const c = podTestHome({ PATH: `${dir}:${process.env.PATH}` });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the network stack failing to start', () => {
  it('fails the run in one line, before any container ran, and leaves nothing', async () => {
    // The stack comes up beside the first container's set-up; that container waits for it, and never runs.
    const input = pod('nostack', { restartPolicy: 'Never', containers: [box('c', 'echo ran')] });
    const line =
      'podbox: pod "nostack": pasta failed: Failed to open() /dev/net/tun: Permission denied: make it usable ' +
      'as distributions ship it: `sudo chmod 0666 /dev/net/tun`, or run the pod with --network=none';
    expect(await c.run(['run', '--network=pasta', '-'], { input })).toEqual({ exitCode: 1, stdout: '', stderr: line });
    expect(await c.run(['run', '-d', '--network=pasta', '-'], { input })).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: line,
    });
    expect((await c.run(['get'])).stderr).toBe('No resources found.');
    expect(networkClaims(c.home)).toEqual([]);
  });
});
