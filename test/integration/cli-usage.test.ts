import { describe, it, expect, afterAll } from 'vitest';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cli, makeHome } from '../helpers/cli.js';

// Every error is one line on stderr naming what is wrong and what to do, usage errors included.
const c = cli(makeHome());
afterAll(() => rmSync(c.home, { recursive: true, force: true }));

describe('usage errors', () => {
  it.each([
    [['get', '-l'], "podbox: unknown option '-l': see `podbox get --help`"],
    [['gte'], "podbox: unknown command 'gte' (did you mean get?): see `podbox --help`"],
    [['run'], "podbox: missing required argument 'file': see `podbox run --help`"],
    [
      ['delete', '--grace-period'],
      "podbox: option '--grace-period <seconds>' argument missing: see `podbox delete --help`",
    ],
  ])('podbox %j', async (args, line) => {
    const r = await c.run(args);
    expect(r.stderr).toBe(line);
    expect(r.exitCode).toBe(1);
  });

  it('podbox alone prints the help on stdout and exits 0, as kubectl does', async () => {
    const r = await c.run([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: podbox \[options\] \[command\]/);
    expect(r.stderr).toBe('');
  });
});

describe('PODBOX_RUNC', () => {
  it('names the runc to use; one that does not exist is refused, never replaced by another', async () => {
    const r = await cli(c.home, { PODBOX_RUNC: '/nonexistent/runc' }).run(['doctor']);
    expect(r.stdout).toContain(
      'FAIL  runc: PODBOX_RUNC names /nonexistent/runc, which does not exist: set it to the path of a runc binary, or unset it to use the installed runc',
    );
    expect(r.exitCode).toBe(1);
    // Doctor's overlay check could not make its sandbox: its scratch directory is gone all the same.
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('podbox-doctor-'))).toEqual([]);
  });
});
