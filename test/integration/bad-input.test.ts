import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, makeHome } from '../helpers/cli.js';
import { pod, box } from '../helpers/pods.js';

// Each refusal comes before any image is looked up or pod created: the home has no image at all.
const home = makeHome();
const c = cli(home);
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A valid pod made larger than 3 MiB by a YAML comment, so its size is its only fault. */
const bigPod = `${pod('big', { containers: [box('app', 'true')] })}\n#${'x'.repeat(3 * 1024 * 1024)}\n`;
const tooLarge = (where: string) =>
  `podbox: ${where}: is larger than 3 MiB (3145728 bytes), the API server's limit: ` +
  'make it smaller: large data belongs in an image or a volume, not in the manifest';

describe('bad input is refused as such, before it costs memory', () => {
  it('refuses a manifest file over 3 MiB for run and for delete -f', async () => {
    const file = join(home, 'big.yaml');
    writeFileSync(file, bigPod);
    for (const args of [
      ['run', file],
      ['run', '-d', file],
      ['delete', '-f', file],
    ]) {
      const r = await c.run(args);
      expect(r.stderr).toBe(tooLarge(file));
      expect(r.exitCode).toBe(1);
    }
    expect(readdirSync(home).sort()).toEqual(['big.yaml']);
  });

  it('refuses a manifest over 3 MiB on stdin', async () => {
    const r = await c.run(['run', '-'], { input: bigPod });
    expect(r.stderr).toBe(tooLarge('stdin'));
    expect(r.exitCode).toBe(1);
  });

  it('refuses a YAML alias bomb naming the file', async () => {
    const file = join(home, 'laughs.yaml');
    // nine levels of nine aliases: 9^9 strings once expanded
    const levels = 'abcdefghi'.split('');
    writeFileSync(
      file,
      [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...levels.slice(1).map((l, i) => `${l}: &${l} [${Array(9).fill(`*${levels[i]}`).join(',')}]`),
      ].join('\n'),
    );
    const r = await c.run(['run', file]);
    expect(r.stderr).toBe(
      `podbox: ${file}: expands its YAML aliases too far ` +
        '(over 100 aliased nodes, as a "billion laughs" does): write the values out, or use fewer aliases (*name)',
    );
    expect(r.exitCode).toBe(1);
  });
});
