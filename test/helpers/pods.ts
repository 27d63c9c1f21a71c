import { execa } from 'execa';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { cli, makeHome, podDirs, EXAMPLES } from './cli.js';

export const IMAGE = 'localhost/busybox:test';

/**
 * One private PODBOX_HOME per test file with the busybox image imported; after each test every
 * pod is deleted (and the test fails if one could not be), after the file the image is removed.
 */
export function podTestHome(extraEnv: Record<string, string> = {}) {
  const home = makeHome();
  const c = cli(home, extraEnv);
  beforeAll(async () => {
    await execa('sh', [join(EXAMPLES, 'busybox-image.sh'), IMAGE], { env: c.env });
  });
  afterEach(async () => {
    const left = podDirs(home);
    if (left.length) {
      const r = await c.run(['delete', '--now', ...left]);
      expect(r.stderr).toBe('');
    }
    expect(podDirs(home)).toEqual([]);
  });
  afterAll(async () => {
    await c.run(['image', 'rm', IMAGE]);
    rmSync(home, { recursive: true, force: true });
  });
  return c;
}

/** The one pod builder: a v1 Pod manifest (JSON, which is YAML) named `name` with `spec`. */
export function pod(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, ...metadata }, spec });
}

export function box(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: IMAGE, command: ['sh', '-c', script], ...extra };
}
