import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { cli, makeHome } from '../helpers/cli.js';

/**
 * Another local user must not be able to hand podbox its state directory: a directory podbox did not
 * create is checked (owner, mode, not a symbolic link) and refused with one line before anything is
 * written. The attacker's tree is played by directories of this test; as root it can also be owned
 * by another uid. Without XDG_RUNTIME_DIR and PODBOX_HOME the state goes to /tmp/podbox-$UID.
 */
const uid = process.getuid!();
const fallback = `/tmp/podbox-${uid}`;
const OTHER_UID = 54321;
const work = makeHome();
const attacker = join(work, 'attacker');
// XDG_DATA_HOME inside the test's own dir, so `image ls` never touches the user's real store.
const noHome = (runtime: string) =>
  cli(work, { PODBOX_HOME: '', XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: join(work, 'data') });
const refusal = (path: string, problem: string, env = 'XDG_RUNTIME_DIR or PODBOX_HOME') =>
  `podbox: state directory ${path} ${problem}: remove it, or set ${env} to a private directory (yours, mode 0700)`;

// The test owns /tmp/podbox-$UID while it runs; a real one (e.g. left by a command run without
// PODBOX_HOME) is moved aside for that time and put back after.
const aside = `${fallback}.aside-${process.pid}`;
let movedAside = false;
beforeAll(() => {
  if (lstatSafe(fallback)) {
    renameSync(fallback, aside);
    movedAside = true;
  }
});
afterEach(() => {
  rmSync(fallback, { recursive: true, force: true });
  rmSync(attacker, { recursive: true, force: true });
  mkdirSync(attacker, { mode: 0o777 });
  chmodSync(attacker, 0o777);
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (movedAside) renameSync(aside, fallback);
});

function lstatSafe(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

describe('a state directory another user could control is refused', () => {
  it('refuses /tmp/podbox-$UID as a symbolic link, and writes nothing where it points', async () => {
    mkdirSync(attacker, { recursive: true, mode: 0o777 });
    symlinkSync(attacker, fallback);
    for (const args of [['get'], ['describe', 'x'], ['delete', 'x']]) {
      const r = await noHome('').run(args);
      expect(r.stderr).toBe(refusal(fallback, 'is a symbolic link'));
      expect(r.exitCode).toBe(1);
    }
    expect(readdirSync(attacker)).toEqual([]);
  });

  it('refuses /tmp/podbox-$UID when others can write to it (mode 0777)', async () => {
    mkdirSync(fallback, { mode: 0o777 });
    chmodSync(fallback, 0o777);
    const r = await noHome('').run(['get']);
    expect(r.stderr).toBe(refusal(fallback, 'is writable by others (mode 0777)'));
    expect(r.exitCode).toBe(1);
    expect(readdirSync(fallback)).toEqual([]);
  });

  it('refuses /tmp/podbox-$UID owned by another user (as root, who can make one)', async () => {
    if (uid !== 0) return; // rootless, the same check is met through XDG_RUNTIME_DIR below
    mkdirSync(fallback, { mode: 0o700 });
    chownSync(fallback, OTHER_UID, OTHER_UID);
    const r = await noHome('').run(['get']);
    expect(r.stderr).toBe(refusal(fallback, `belongs to uid ${OTHER_UID}, not to you (uid 0)`));
    expect(r.exitCode).toBe(1);
    expect(readdirSync(fallback)).toEqual([]);
  });

  it("refuses its podbox/ child as a symbolic link to the attacker's tree", async () => {
    mkdirSync(fallback, { mode: 0o700 });
    symlinkSync(attacker, join(fallback, 'podbox'));
    const r = await noHome('').run(['get']);
    expect(r.stderr).toBe(refusal(join(fallback, 'podbox'), 'is a symbolic link'));
    expect(r.exitCode).toBe(1);
    expect(readdirSync(attacker)).toEqual([]);
  });

  it("refuses an XDG_RUNTIME_DIR that is not the user's alone", async () => {
    const shared = join(work, 'shared-runtime');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    let r = await noHome(shared).run(['get']);
    expect(r.stderr).toBe(refusal(shared, 'is writable by others (mode 0777)'));
    expect(r.exitCode).toBe(1);
    expect(readdirSync(shared)).toEqual([]);

    const link = join(work, 'runtime-link');
    symlinkSync(attacker, link);
    r = await noHome(link).run(['get']);
    expect(r.stderr).toBe(refusal(link, 'is a symbolic link'));
    expect(readdirSync(attacker)).toEqual([]);

    // /tmp belongs to root: rootless it is someone else's, as root it is writable by all.
    r = await noHome('/tmp').run(['get']);
    const tmpProblem = uid === 0 ? 'is writable by others (mode 1777)' : `belongs to uid 0, not to you (uid ${uid})`;
    expect(r.stderr).toBe(refusal('/tmp', tmpProblem));
    expect(existsSync('/tmp/podbox')).toBe(false);
  });

  it('refuses pods/ and images/ under PODBOX_HOME as symbolic links', async () => {
    const home = join(work, 'home');
    mkdirSync(home, { mode: 0o700 });
    symlinkSync(attacker, join(home, 'pods'));
    symlinkSync(attacker, join(home, 'images'));
    const c = cli(home);
    let r = await c.run(['get']);
    expect(r.stderr).toBe(refusal(join(home, 'pods'), 'is a symbolic link', 'PODBOX_HOME'));
    expect(r.exitCode).toBe(1);
    r = await c.run(['image', 'ls']);
    expect(r.stderr).toBe(refusal(join(home, 'images'), 'is a symbolic link', 'PODBOX_HOME'));
    expect(r.exitCode).toBe(1);
    expect(readdirSync(attacker)).toEqual([]);
    rmSync(home, { recursive: true });
  });

  it('doctor fails its state directories check with the same line', async () => {
    const shared = join(work, 'doctor-runtime');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const r = await noHome(shared).run(['doctor']);
    const line = r.stdout.split('\n').find((l) => l.includes('state directories'));
    const refused = refusal(shared, 'is writable by others (mode 0777)').slice('podbox: '.length);
    expect(line).toBe(`FAIL  state directories: ${refused}`);
    expect(r.exitCode).toBe(1);
    expect(readdirSync(shared)).toEqual([]);
  });

  it('makes /tmp/podbox-$UID itself, private, when it is absent', async () => {
    const r = await noHome('').run(['get']);
    expect(r.exitCode).toBe(0);
    for (const d of [fallback, join(fallback, 'podbox')]) {
      const st = lstatSync(d);
      expect([st.isDirectory(), st.uid, st.mode & 0o777]).toEqual([true, uid, 0o700]);
    }
  });
});
