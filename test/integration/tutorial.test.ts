import { describe, it, expect, afterEach, afterAll } from 'vitest';
import { execa } from 'execa';
import { accessSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, makeHome, podDirs, PODBOX } from '../helpers/cli.js';
import { consoleCommands, matchOutput } from '../helpers/doc-test.js';

// The tutorial in docs/learn, run as a learner runs it: each page's console commands in order, from the
// checkout's root, through `sh -c` with this checkout's podbox first in PATH, in one fresh PODBOX_HOME
// (README.md first: it imports the image the lessons use). Each output is checked against the page.
const root = fileURLToPath(new URL('../..', import.meta.url));
const learn = join(root, 'docs', 'learn');
const pages = [
  'README.md',
  ...readdirSync(learn)
    .filter((f) => /^\d\d-.*\.md$/.test(f))
    .sort(),
];

const home = makeHome();
const c = cli(home);
// The learner's network: the default (pasta) when the machine lets this user open the tun device, as
// examples/demo.sh decides; no lesson's output depends on it.
const { PODBOX_NETWORK: _hermetic, ...learnerEnv } = c.env;
const env: Record<string, string | undefined> = {
  ...process.env,
  ...learnerEnv,
  PODBOX_NETWORK: undefined,
  PATH: `${dirname(PODBOX)}:${process.env.PATH}`,
};
try {
  accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
} catch {
  env.PODBOX_NETWORK = 'none';
}

afterEach(async () => {
  const left = podDirs(home);
  if (left.length) await c.run(['delete', '--now', ...left]);
});
afterAll(async () => {
  await c.run(['image', 'rm', 'localhost/busybox:demo']);
  rmSync(home, { recursive: true, force: true });
});

describe('docs/learn: every command of the tutorial gives the output the page shows', () => {
  for (const page of pages) {
    it(page, async () => {
      const commands = consoleCommands(readFileSync(join(learn, page), 'utf8'));
      expect(commands.length).toBeGreaterThan(0);
      let bound = new Map<string, string>();
      for (const { command, expected, line } of commands) {
        // One stream, as a terminal shows stdout and stderr; no stdin.
        const r = await execa('sh', ['-c', `exec 2>&1\n${command}`], {
          cwd: root,
          env,
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          timeout: 30_000,
        });
        const output = String(r.stdout);
        const where = `docs/learn/${page}:${line}: $ ${command}`;
        expect(r.exitCode, `${where}\n${output}`).toBe(0);
        // Blank lines at the end show nothing on a terminal (ipcs ends with one): they do not count.
        const lines = output.replace(/\n+$/, '').split('\n');
        const next = matchOutput(expected, lines[0] === '' && lines.length === 1 ? [] : lines, bound);
        // On a mismatch, show the page's text next to what the command printed.
        if (!next) expect(`${where}\n${output}`).toBe(`${where}\n${expected.join('\n')}`);
        bound = next!;
      }
      // Every lesson deletes what it made.
      expect(podDirs(home)).toEqual([]);
    });
  }
});
