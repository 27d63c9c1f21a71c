import { describe, expect, it } from 'vitest';
import { privateDirProblem } from '../../src/host/private-dir.js';
import { stateDirChain } from '../../src/paths.js';

const dir = { symlink: false, directory: true, uid: 1001, mode: 0o40700 };

describe("privateDirProblem: a state directory must be the user's alone", () => {
  it("accepts the user's own directory, 0700 or only readable by others", () => {
    expect(privateDirProblem(dir, 1001)).toBeUndefined();
    expect(privateDirProblem({ ...dir, mode: 0o40755 }, 1001)).toBeUndefined();
  });

  it('refuses a symbolic link, whoever owns it and wherever it points', () => {
    expect(privateDirProblem({ ...dir, symlink: true, directory: false }, 1001)).toBe('is a symbolic link');
  });

  it("refuses what is not a directory, another user's directory, and one others can write to", () => {
    expect(privateDirProblem({ ...dir, directory: false }, 1001)).toBe('is not a directory');
    expect(privateDirProblem({ ...dir, uid: 65534 }, 1001)).toBe('belongs to uid 65534, not to you (uid 1001)');
    expect(privateDirProblem({ ...dir, mode: 0o40777 }, 1001)).toBe('is writable by others (mode 0777)');
    expect(privateDirProblem({ ...dir, mode: 0o40770 }, 1001)).toBe('is writable by others (mode 0770)');
    expect(privateDirProblem({ ...dir, mode: 0o41733 }, 1001)).toBe('is writable by others (mode 1733)');
  });
});

describe('stateDirChain: every directory podbox relies on, outermost first', () => {
  const uid = process.getuid!();
  it("without XDG_RUNTIME_DIR: /tmp/podbox-UID and its podbox/ child, both podbox's own", () => {
    expect(stateDirChain('pods', { HOME: '/home/u' })).toEqual({
      chain: [
        { path: `/tmp/podbox-${uid}`, ours: true },
        { path: `/tmp/podbox-${uid}/podbox`, ours: true },
      ],
      hint: 'remove it, or set XDG_RUNTIME_DIR or PODBOX_HOME to a private directory (yours, mode 0700)',
    });
  });

  it("with XDG_RUNTIME_DIR: the runtime dir itself (the user's), then podbox/", () => {
    expect(stateDirChain('pods', { XDG_RUNTIME_DIR: '/run/user/7' }).chain).toEqual([
      { path: '/run/user/7', ours: false },
      { path: '/run/user/7/podbox', ours: true },
    ]);
  });

  it('with PODBOX_HOME: PODBOX_HOME, then pods/ or images/', () => {
    expect(stateDirChain('images', { PODBOX_HOME: '/srv/pb', XDG_RUNTIME_DIR: '/run/user/7' })).toEqual({
      chain: [
        { path: '/srv/pb', ours: false },
        { path: '/srv/pb/images', ours: true },
      ],
      hint: 'remove it, or set PODBOX_HOME to a private directory (yours, mode 0700)',
    });
  });
});
