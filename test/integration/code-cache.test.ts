import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cli, makeHome, PODBOX } from '../helpers/cli.js';

/** The cache file of the built bundle: its first line names a hash of it (scripts/bundle.mjs). */
const bundle = readFileSync(join(dirname(PODBOX), '..', 'dist', 'podbox.cjs'), 'utf8');
const bundleId = /^\/\/ podbox-bundle ([0-9a-f]{16})/.exec(bundle)![1];
const CACHE_NAME = `podbox-${bundleId}-cli-node${process.version}-${process.arch}.v8cache`;

/**
 * bin/podbox compiles the CLI bundle with a V8 code cache kept in ${XDG_CACHE_HOME}/podbox. Cached
 * data is code: it must be written once, privately, and never read from a place another user could
 * have written.
 */
describe('the code cache of bin/podbox', () => {
  let home: string;
  let xdg: string;
  let dir: string;
  let run: ReturnType<typeof cli>['run'];

  beforeEach(() => {
    home = makeHome();
    xdg = mkdtempSync(join(tmpdir(), 'podbox-xdg-'));
    dir = join(xdg, 'podbox');
    run = cli(home, { XDG_CACHE_HOME: xdg }).run;
  });
  afterEach(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(xdg, { recursive: true, force: true });
  });

  const version = async () => expect(await run(['--version'])).toEqual({ exitCode: 0, stdout: '0.1.0', stderr: '' });

  it('is written once, 0600 in a 0700 directory, and then used as it is', async () => {
    await version();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual([CACHE_NAME]); // and no temporary file left
    const file = join(dir, CACHE_NAME);
    const first = statSync(file);
    expect(first.mode & 0o777).toBe(0o600);
    expect(first.size).toBeGreaterThan(0);
    await version();
    expect(statSync(file).ino).toBe(first.ino); // accepted by V8: not written again
  });

  it('replaces data V8 rejects and never fails the command for it', async () => {
    await version();
    const file = join(dir, CACHE_NAME);
    writeFileSync(file, 'not a code cache');
    const planted = statSync(file).ino;
    await version();
    expect(statSync(file).ino).not.toBe(planted);
    expect(readFileSync(file, 'utf8')).not.toBe('not a code cache');
  });

  it('does not trust a cache file others may write', async () => {
    await version();
    const file = join(dir, CACHE_NAME);
    chmodSync(file, 0o666);
    const planted = statSync(file).ino;
    await version();
    // Valid data, but not read: written anew, private.
    expect(statSync(file).ino).not.toBe(planted);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('neither reads nor writes a cache directory others may write', async () => {
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o777);
    await version();
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(join(dir, CACHE_NAME), 'planted');
    await version();
    expect(readdirSync(dir)).toEqual([CACHE_NAME]);
    expect(readFileSync(join(dir, CACHE_NAME), 'utf8')).toBe('planted');
  });

  it('is skipped where no cache directory can be made', async () => {
    // /proc refuses mkdir with ENOENT, on which Node 20's recursive mkdirSync loops forever.
    const r = await cli(home, { XDG_CACHE_HOME: '/proc/podbox-none' }).run(['--version'], { timeout: 10_000 });
    expect(r).toEqual({ exitCode: 0, stdout: '0.1.0', stderr: '' });
  });
});
