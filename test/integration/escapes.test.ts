import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';

/**
 * A container is hostile: whatever it leaves in a volume or reaches through /proc, it must not get
 * at the invoking user's files. Each test puts a secret where the user keeps files (HOME, a temp
 * dir, PODBOX_HOME beside the pod directories) and checks that it is not read nor written, while
 * what is inside the volume still is.
 */
const c = podTestHome();
const HOME = homedir();
const SECRET_NAME = `.podbox-escape-secret-${process.pid}`;
const SECRETS = [join(HOME, SECRET_NAME), join(tmpdir(), SECRET_NAME), join(c.home, SECRET_NAME)];
const SECRET = 'the-users-secret';

beforeAll(() => {
  for (const s of SECRETS) writeFileSync(s, `${SECRET}\n`, { mode: 0o644 });
});
afterAll(() => {
  for (const s of SECRETS) rmSync(s, { force: true });
});

/** Files a container managed to create where the user keeps files (there must be none). */
const planted = () =>
  [HOME, tmpdir(), c.home].flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.startsWith('pwned'))
      .map((f) => join(d, f)),
  );

function expectSecretsIntact(output: string): void {
  expect(output).not.toContain(SECRET);
  for (const s of SECRETS) expect(readFileSync(s, 'utf8')).toBe(`${SECRET}\n`);
  expect(planted()).toEqual([]);
}

/** A pod whose init container shapes the emptyDir, then an app container that mounts `subPath` of it at /h. */
function subPathPod(name: string, prepare: string, subPath: string, script: string): string {
  const vol = { name: 'v', mountPath: '/vol' };
  return pod(name, {
    restartPolicy: 'Never',
    volumes: [{ name: 'v', emptyDir: {} }],
    initContainers: [box('init', prepare, { volumeMounts: [vol] })],
    containers: [box('app', script, { volumeMounts: [{ name: 'v', mountPath: '/h', subPath }] })],
  });
}

const REFUSED = 'resolve_subpath_beneath: Too many levels of symbolic links';

describe('subPath cannot leave its volume', () => {
  it("the escape of issue 7: a symlink to the user's home left by an init container", async () => {
    const r = await c.run(['run', '-'], {
      input: subPathPod('esc', `ln -s ${HOME} /vol/esc`, 'esc', `cat /h/${SECRET_NAME}; echo pwned > /h/pwned`),
    });
    expect(r.stderr).toBe(
      `app  | podbox: cannot start container: container "app": volume "v" subPath "esc": ${REFUSED}`,
    );
    expect(r.stdout).toBe('');
    expectSecretsIntact(r.stdout + r.stderr);
  });

  // Each: what the init container leaves, the subPath, and the step that refuses it.
  const variants: [string, string, string, string][] = [
    ['a chain of symlinks', `ln -s l2 /vol/l1 && ln -s ${HOME} /vol/l2`, 'l1', REFUSED],
    ['a symlink in the middle of the path', `mkdir /vol/d && ln -s ${HOME} /vol/d/esc`, 'd/esc/sub', REFUSED],
    ['an absolute symlink that looks inside', 'mkdir /vol/data && ln -s /vol/data /vol/abs', 'abs', REFUSED],
    ['a relative symlink up and out', 'mkdir /vol/d && ln -s ../../../../../../../.. /vol/d/up', 'd/up', REFUSED],
    ['a symlink to a file', `ln -s ${SECRETS[1]} /vol/f`, 'f', REFUSED],
    [
      'a symlink to a file in the temp dir, deeper',
      `mkdir -p /vol/a/b && ln -s ${tmpdir()} /vol/a/b/t`,
      `a/b/t/${SECRET_NAME}`,
      REFUSED,
    ],
  ];
  it.each(variants)('%s', async (_what, prepare, subPath, step) => {
    const r = await c.run(['run', '-'], {
      input: subPathPod(
        'variant',
        prepare,
        subPath,
        `cat /h 2>&1; ls /h; cat /h/${SECRET_NAME}; echo pwned > /h/pwned`,
      ),
    });
    expect(r.stderr).toBe(
      `app  | podbox: cannot start container: container "app": volume "v" subPath "${subPath}": ${step}`,
    );
    expectSecretsIntact(r.stdout + r.stderr);
  });

  it('refuses `..` and absolute subPaths in the manifest, as the API server does', async () => {
    for (const subPath of ['../x', 'a/../../x', '/etc']) {
      const r = await c.run(['run', '-'], { input: subPathPod('dots', 'true', subPath, 'true') });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`subPath: Invalid value "${subPath}": must be a relative path without '..'`);
    }
  });

  it("still mounts a directory, a file and a new directory (the container user's) inside the volume", async () => {
    const vol = { name: 'v', mountPath: '/vol' };
    const r = await c.run(['run', '-'], {
      input: pod('inside', {
        restartPolicy: 'Never',
        volumes: [{ name: 'v', emptyDir: {} }],
        initContainers: [
          box('init', 'mkdir /vol/real && echo in-dir > /vol/real/m && echo in-file > /vol/c.txt', {
            volumeMounts: [vol],
          }),
        ],
        containers: [
          box('app', 'cat /r/m /c; stat -c "%u %g %a" /n; echo w > /n/x && cat /vol/new/deep/x', {
            securityContext: { runAsUser: 1000, runAsGroup: 1000 },
            volumeMounts: [
              vol,
              { name: 'v', mountPath: '/r', subPath: 'real' },
              { name: 'v', mountPath: '/c', subPath: 'c.txt' },
              { name: 'v', mountPath: '/n', subPath: 'new/deep' },
            ],
          }),
        ],
      }),
    });
    expect(r.stdout).toBe('app  | in-dir\napp  | in-file\napp  | 1000 1000 777\napp  | w');
    expect(r.exitCode).toBe(0);
  });

  it('a symlink swapped in between check and mount leads nowhere outside', async () => {
    // swap flips /vol/esc between a directory holding "inside" and a symlink to the user's home,
    // as fast as it can, while the victims are started one after the other with subPath esc.
    const vol = { name: 'v', mountPath: '/vol' };
    const swap = `mkdir -p /vol/real && echo inside > /vol/real/m; i=0;
      while [ $i -lt 600 ] && [ ! -e /vol/stop ]; do
        rm -rf /vol/esc; ln -s ${HOME} /vol/esc; rm -f /vol/esc; mv /vol/real /vol/esc; mv /vol/esc /vol/real;
        i=$((i+1));
      done; echo swapped`;
    const victims = Array.from({ length: 6 }, (_, i) =>
      box(
        `v${i}`,
        `cat /h/m /h/${SECRET_NAME} 2>/dev/null; echo pwned 2>/dev/null > /h/pwned-${i};` +
          (i === 5 ? 'touch /vol/stop' : 'true'),
        { volumeMounts: [vol, { name: 'v', mountPath: '/h', subPath: 'esc' }] },
      ),
    );
    const r = await c.run(['run', '-'], {
      input: pod('race', {
        restartPolicy: 'Never',
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [box('swap', swap, { volumeMounts: [vol] }), ...victims],
      }),
    });
    expect(r.stdout.split('\n')).toContain('swap | swapped');
    // A victim started with the volume's own directory (perhaps one podbox created), or not at all:
    // refused at resolution, at the move of its subPath mount (the directory went meanwhile: ENOENT),
    // or by runc when the directory it got was removed meanwhile.
    const lines = (r.stdout + '\n' + r.stderr).split('\n').filter((l) => /^v\d /.test(l));
    for (const line of lines) {
      expect(line).toMatch(
        new RegExp(
          '^v\\d +\\| (inside' +
            '|podbox: cannot start container: .*subPath "esc": ' +
            '(resolve_subpath_beneath|create_subpath_directory|move_subpath_mount): .*' +
            '|(runc run failed|podbox: cannot start container): unable to start container process: ' +
            '.*subpaths/1.*no such file or directory)$',
        ),
      );
    }
    expectSecretsIntact(r.stdout + r.stderr);
  });
});

describe('configMap and secret items stay inside their volume', () => {
  const cm = (items: unknown) =>
    [
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cfg' },
        data: { a: 'alpha\n', b: 'beta\n' },
      }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, stringData: { s: 'sigma\n' } }),
      pod('items', {
        restartPolicy: 'Never',
        volumes: [
          { name: 'c', configMap: { name: 'cfg', items } },
          { name: 's', secret: { secretName: 'sec', items: [{ key: 's', path: 'x/y/s' }] } },
        ],
        containers: [
          box('t', `cat /c/deep/er/a /s/x/y/s /one; echo pwned > /c/pwned 2>/dev/null || echo read-only`, {
            volumeMounts: [
              { name: 'c', mountPath: '/c' },
              { name: 's', mountPath: '/s' },
              { name: 'c', mountPath: '/one', subPath: 'deep/er/a' },
            ],
          }),
        ],
      }),
    ].join('\n---\n');

  it('refuses an item path with `..` or an absolute one, and a key `..`', async () => {
    for (const path of ['../../pwned', 'a/../../pwned', `/${SECRET_NAME}`]) {
      const r = await c.run(['run', '-'], { input: cm([{ key: 'a', path }]) });
      expect(r.stderr).toContain(`path: Invalid value "${path}": must be a relative path without '..'`);
      expect(r.exitCode).not.toBe(0);
    }
    const r = await c.run(['run', '-'], {
      input:
        JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { '..': 'x' } }) +
        '\n---\n' +
        pod('k', { containers: [box('t', 'true')] }),
    });
    expect(r.stderr).toContain("must not be '.' or '..' or start with '..'");
    expectSecretsIntact(r.stdout + r.stderr);
  });

  it('projects nested item paths, read-only, and a subPath of one', async () => {
    const r = await c.run(['run', '-'], { input: cm([{ key: 'a', path: 'deep/er/a' }]) });
    expect(r.stdout).toBe('t | alpha\nt | sigma\nt | alpha\nt | read-only');
    expectSecretsIntact(r.stdout + r.stderr);
  });
});

describe("/proc of the pod's other processes leads nowhere outside (shareProcessNamespace + SYS_PTRACE)", () => {
  it("pause and runc have the pod's own root: no user file, the pod directory read-only", async () => {
    const podDir = join(c.home, 'pods', 'ptrace');
    // Every process of the pod that is not in this container's root: pause (PID 1) only, since
    // containers run detached (no `runc run` stays beside them).
    // (A process gone meanwhile, such as `runc run --detach` exiting as the container starts, is skipped.
    // "reachable" lists the root's top, not its /proc: a pid that vanishes while ls reads /proc makes ls fail.)
    const script = `for p in /proc/[0-9]*; do [ "$p/root/" -ef / ] && continue; [ -e $p/root/proc ] || continue;
      echo "root $(ls $p/root/ >/dev/null && echo reachable)";
      for s in ${SECRETS.join(' ')}; do cat $p/root$s $p/cwd$s 2>/dev/null; done;
      ls $p/root${HOME} 2>/dev/null | grep -q . && echo home-visible;
      [ -e $p/root/etc/shadow ] && echo shadow-visible;
      echo "sys $(awk '$5 == "/sys" { split($6, f, ","); print f[1] }' $p/mountinfo)";
      echo pwned > $p/root${c.home}/pwned 2>/dev/null && echo wrote-home;
      echo x > $p/root${podDir}/status.json 2>/dev/null && echo wrote-status;
      ln -s ${HOME} $p/root${podDir}/containers/t/x 2>/dev/null && echo planted-link;
      for f in $p/fd/*; do echo "fd $(readlink $f)"; done;
      tr '\\0' '\\n' < $p/environ | sed 's/^/env /'; echo "cmd $(tr '\\0' ' ' < $p/cmdline)";
      echo "exe $(readlink $p/exe)"; done`;
    const r = await c.run(['run', '-'], {
      input: pod('ptrace', {
        restartPolicy: 'Never',
        shareProcessNamespace: true,
        containers: [box('t', script, { securityContext: { capabilities: { add: ['SYS_PTRACE'] } } })],
      }),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.replace(/^t \| /, ''));
    // pause, reachable (SYS_PTRACE) and rooted in the pod's root.
    expect(
      lines.filter((l) => l.startsWith('root')),
      r.stdout,
    ).toEqual(['root reachable']);
    expect(lines.filter((l) => l.startsWith('sys ')).every((l) => l === 'sys ro')).toBe(true);
    const kinds = /^(root|fd|env|exe|cmd|sys) /;
    expect(lines.filter((l) => !kinds.test(l))).toEqual([]); // no secret, no home, no write
    // Descriptors, environment and arguments name no path of the user's but the pod's own directory.
    const paths = lines
      .filter((l) => /^(fd|env|cmd) /.test(l))
      .flatMap((l) => l.split(/[ =:]/))
      .filter((w) => w.startsWith('/'));
    expect(paths.filter((p) => !(p.startsWith(`${podDir}/`) || /^\/(dev|sys|usr|bin|sbin)\b/.test(p)))).toEqual([]);
    expect(lines).toContain('cmd pause -r 3 -e 4 ');
    // pause holds /dev/null and the pod's exits file only: not the supervisor's stderr (a user's
    // terminal, in the foreground).
    const pauseFds = await c.run(['run', '-'], {
      input: pod('pausefds', {
        restartPolicy: 'Never',
        shareProcessNamespace: true,
        containers: [
          box('t', 'for f in /proc/1/fd/*; do readlink $f; done', {
            securityContext: { capabilities: { add: ['SYS_PTRACE'] } },
          }),
        ],
      }),
    });
    const exits = join(c.home, 'pods', 'pausefds', 'exits');
    expect(pauseFds.stdout).toBe(`t | /dev/null\nt | /dev/null\nt | /dev/null\nt | ${exits}`);
    expect(lines).toContain('exe /memfd:podbox-program (deleted)'); // pause: a sealed copy, not a file of the user's
    expectSecretsIntact(r.stdout + r.stderr);
  });

  it('pause holds no capability and is not dumpable: a container without SYS_PTRACE cannot look into it', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('pausecaps', {
        restartPolicy: 'Never',
        shareProcessNamespace: true,
        // Without SYS_PTRACE (containerd's default set) a root container may not look into pause.
        containers: [
          box(
            't',
            'grep -E "^(CapEff|CapPrm|NoNewPrivs)" /proc/1/status; ' +
              'cat /proc/1/environ 2>/dev/null && echo environ-read || echo environ-denied; ' +
              'ls /proc/1/root/ >/dev/null 2>&1 && echo root-read || echo root-denied',
          ),
        ],
      }),
    });
    expect(r.stdout).toBe(
      [
        't | CapPrm:\t0000000000000000',
        't | CapEff:\t0000000000000000',
        't | NoNewPrivs:\t1',
        't | environ-denied',
        't | root-denied',
      ].join('\n'),
    );
  });
});

describe('a restarted container gets a fresh layer, whatever the last one left in it', () => {
  it("restarts after leaving symlinks to the user's home in its layer; the user's files are untouched", async () => {
    // The first run leaves symlinks in its layer and fails; the restart (after the kubelet's 10 s
    // back-off) must start from the image again.
    const script = `if [ -e /v/ran ]; then echo "tmp holds $(ls -A /tmp | wc -l)"; ls /link 2>&1; exit 0; fi;
      touch /v/ran;
      ln -s ${HOME} /tmp/home; ln -s ${HOME} /link; echo first; exit 1`;
    const r = await c.run(['run', '-'], {
      input: pod('restart', {
        restartPolicy: 'OnFailure',
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [box('t', script, { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
      }),
    });
    expect(r.stdout).toBe('t | first\nt | tmp holds 0\nt | ls: /link: No such file or directory');
    expectSecretsIntact(r.stdout + r.stderr);
  }, 40_000);
});
