import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { podDirs } from '../helpers/cli.js';
import { pollUntil } from '../../src/host/poll.js';

/**
 * hostPath and persistentVolumeClaim volumes end to end (rootless and as root): a host directory
 * shared both ways, every hostPath type and its failure as the kubelet reports it, named volumes
 * that outlive their pods, and symlinks planted in such a volume that lead nowhere outside it.
 */
const c = podTestHome();
let host: string;

beforeEach(() => {
  // Readable by the pod's root (the user, or root): mode 0755 as a checkout would be.
  host = mkdtempSync(join(tmpdir(), 'podbox-hostpath-'));
});
afterEach(async () => {
  // The pods go first: one still retrying a DirectoryOrCreate would make the directory again.
  const left = podDirs(c.home);
  if (left.length) await c.run(['delete', '--now', ...left]);
  rmSync(host, { recursive: true, force: true });
});

const json = async (args: string[]) => {
  const r = await c.run(args);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

/** The pod's events as `get -o json` cannot show them: describe's Events lines, reason and message. */
async function failedMounts(name: string): Promise<string[]> {
  const r = await c.run(['describe', name]);
  return r.stdout
    .split('\n')
    .filter((l) => l.includes('FailedMount'))
    .map((l) => l.replace(/^.*FailedMount\s+.*?kubelet\s+/, ''));
}

describe('hostPath', () => {
  it('shares a host directory both ways: the host edits, the container sees; the container writes, the host sees', async () => {
    writeFileSync(join(host, 'from-host'), 'v1\n');
    const spec = {
      volumes: [{ name: 'src', hostPath: { path: host, type: 'Directory' } }],
      containers: [
        box(
          'app',
          'cat /src/from-host; echo from-container > /src/from-container;' +
            'while [ "$(cat /src/from-host)" != v2 ]; do sleep 0.05; done; echo seen v2; sleep 3600',
          { volumeMounts: [{ name: 'src', mountPath: '/src' }] },
        ),
      ],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('share', spec) })).stdout).toBe('share');
    expect(await pollUntil(() => existsSync(join(host, 'from-container')), 20_000, 20)).toBe(true);
    expect(readFileSync(join(host, 'from-container'), 'utf8')).toBe('from-container\n');
    // Rootless the user is the pod's root, so what root writes in the pod is the user's on the host.
    expect(statSync(join(host, 'from-container')).uid).toBe(process.getuid!());
    writeFileSync(join(host, 'from-host'), 'v2\n');
    const seen = async () => (await c.run(['logs', 'share'])).stdout.includes('seen v2');
    expect(await pollUntil(seen, 20_000, 50)).toBe(true);
    expect((await c.run(['logs', 'share'])).stdout).toBe('v1\nseen v2');
    const d = await c.run(['describe', 'share']);
    expect(d.stdout).toContain(
      `    Type:          HostPath (bare host directory volume)\n    Path:          ${host}\n    HostPathType:  Directory\n`,
    );
  });

  it("shows the user's files as the pod's root, other users' as the overflow id (rootless)", async () => {
    writeFileSync(join(host, 'mine'), '');
    const r = await c.run(['run', '-'], {
      input: pod('owners', {
        restartPolicy: 'Never',
        volumes: [
          { name: 'src', hostPath: { path: host } },
          { name: 'etc', hostPath: { path: '/etc/passwd', type: 'File' } },
        ],
        containers: [
          box('app', 'stat -c %u /src/mine /etc-passwd', {
            volumeMounts: [
              { name: 'src', mountPath: '/src' },
              { name: 'etc', mountPath: '/etc-passwd', readOnly: true },
            ],
          }),
        ],
      }),
    });
    // /etc/passwd is root's: as root it is uid 0 in the pod too; rootless, root is not mapped.
    expect(r.stdout).toBe(`app | 0\napp | ${process.getuid!() === 0 ? 0 : 65534}`);
  });

  it('readOnly on the volumeMount: the container cannot write the host directory', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('ro', {
        restartPolicy: 'Never',
        volumes: [{ name: 'src', hostPath: { path: host } }],
        containers: [
          box('app', 'echo x > /src/f 2>/dev/null && echo wrote || echo refused', {
            volumeMounts: [{ name: 'src', mountPath: '/src', readOnly: true }],
          }),
        ],
      }),
    });
    expect(r.stdout).toBe('app | refused');
    expect(existsSync(join(host, 'f'))).toBe(false);
  });

  it('creates what the OrCreate types and "" ask for, with the kubelet modes', async () => {
    const r = await c.run(['run', '-'], {
      input: pod('create', {
        restartPolicy: 'Never',
        volumes: [
          { name: 'd', hostPath: { path: join(host, 'a/b'), type: 'DirectoryOrCreate' } },
          { name: 'f', hostPath: { path: join(host, 'file'), type: 'FileOrCreate' } },
          { name: 'u', hostPath: { path: join(host, 'unset/dir') } },
        ],
        containers: [
          box('app', 'echo in-d > /d/x; echo in-f > /f; echo in-u > /u/y; cat /d/x /f /u/y', {
            volumeMounts: [
              { name: 'd', mountPath: '/d' },
              { name: 'f', mountPath: '/f' },
              { name: 'u', mountPath: '/u' },
            ],
          }),
        ],
      }),
    });
    expect(r.stdout).toBe('app | in-d\napp | in-f\napp | in-u');
    expect(r.exitCode).toBe(0);
    expect(statSync(join(host, 'a/b')).mode & 0o7777).toBe(0o755 & ~process.umask());
    expect(statSync(join(host, 'file')).mode & 0o7777).toBe(0o644 & ~process.umask());
    expect(readFileSync(join(host, 'file'), 'utf8')).toBe('in-f\n');
    expect(readFileSync(join(host, 'unset/dir/y'), 'utf8')).toBe('in-u\n');
  });

  it('mounts a File and a Socket of the host', async () => {
    writeFileSync(join(host, 'conf'), 'setting=1\n');
    const server: Server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(join(host, 'sock'), r));
    try {
      const r = await c.run(['run', '-'], {
        input: pod('types', {
          restartPolicy: 'Never',
          volumes: [
            { name: 'conf', hostPath: { path: join(host, 'conf'), type: 'File' } },
            { name: 'sock', hostPath: { path: join(host, 'sock'), type: 'Socket' } },
          ],
          containers: [
            box('app', 'cat /etc/app.conf; [ -S /run/host.sock ] && echo a socket', {
              volumeMounts: [
                { name: 'conf', mountPath: '/etc/app.conf' },
                { name: 'sock', mountPath: '/run/host.sock' },
              ],
            }),
          ],
        }),
      });
      expect(r.stdout).toBe('app | setting=1\napp | a socket');
    } finally {
      server.close();
    }
  });

  // type, what is at the path, the kubelet's message
  const failures: [string, (p: string) => void, string][] = [
    ['Directory', (p) => writeFileSync(p, ''), 'is not a directory'],
    ['Directory', () => {}, 'is not a directory'],
    ['DirectoryOrCreate', (p) => writeFileSync(p, ''), 'is not a directory'],
    ['File', (p) => mkdirSync(p), 'is not a file'],
    ['FileOrCreate', (p) => mkdirSync(p), 'is not a file'],
    ['Socket', (p) => writeFileSync(p, ''), 'is not a socket file'],
  ];
  it.each(failures)(
    'type %s with the wrong thing there: ContainerCreating and FailedMount, retried',
    async (type, make, what) => {
      const path = join(host, 'x');
      make(path);
      const spec = {
        volumes: [{ name: 'v', hostPath: { path, type } }],
        containers: [box('app', 'sleep 3600', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
      };
      expect((await c.run(['run', '-d', '-'], { input: pod('bad', spec) })).stdout).toBe('bad');
      const message = `MountVolume.SetUp failed for volume "v" : hostPath type check failed: ${path} ${what}`;
      expect(await pollUntil(async () => (await failedMounts('bad')).length > 0, 20_000, 50)).toBe(true);
      expect(await failedMounts('bad')).toEqual([message]);
      const st = await json(['get', 'bad', '-o', 'json']);
      const cs = (st.status as { containerStatuses: { state: unknown; restartCount: number }[] }).containerStatuses[0]!;
      expect(cs.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
      expect(cs.restartCount).toBe(0);
      expect((st.status as { phase: string }).phase).toBe('Pending');
      // Retried with back-off (500ms, 1s, 2s...): the event is counted, as the correlator does.
      const counted = async () => /FailedMount\s+\S+\s+\(x[3-9]/.test((await c.run(['describe', 'bad'])).stdout);
      expect(await pollUntil(counted, 20_000, 100)).toBe(true);
      // Put right on the host, the pod starts at the next try.
      rmSync(path, { recursive: true, force: true });
      if (type.startsWith('Directory')) mkdirSync(path);
      else if (type.startsWith('File')) writeFileSync(path, '');
      if (type !== 'Socket') {
        const running = async () =>
          ((await json(['get', 'bad', '-o', 'json'])).status as { phase: string }).phase === 'Running';
        expect(await pollUntil(running, 30_000, 100)).toBe(true);
      }
    },
  );

  it('FileOrCreate whose parent does not exist fails as the kubelet MakeFile does', async () => {
    const path = join(host, 'missing/f');
    const spec = {
      volumes: [{ name: 'v', hostPath: { path, type: 'FileOrCreate' } }],
      containers: [box('app', 'sleep 3600', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
    };
    await c.run(['run', '-d', '-'], { input: pod('nofile', spec) });
    expect(await pollUntil(async () => (await failedMounts('nofile')).length > 0, 20_000, 50)).toBe(true);
    expect(await failedMounts('nofile')).toEqual([
      `MountVolume.SetUp failed for volume "v" : open ${path}: no such file or directory`,
    ]);
  });

  it('a foreground run says the mount failure once, as one line', async () => {
    const path = join(host, 'nothing');
    const file = join(host, 'fg.json');
    writeFileSync(
      file,
      pod('fg', {
        volumes: [{ name: 'v', hostPath: { path, type: 'Directory' } }],
        containers: [box('app', 'true', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
      }),
    );
    const run = c.spawn(['run', file]);
    const retried = async () => /FailedMount\s+\S+\s+\(x[3-9]/.test((await c.run(['describe', 'fg'])).stdout);
    expect(await pollUntil(retried, 20_000, 100)).toBe(true);
    await c.run(['delete', 'fg']);
    const r = await run;
    expect(String(r.stderr)).toBe(
      `app | podbox: FailedMount: volume "v": hostPath type check failed: ${path} is not a directory; retrying`,
    );
  });

  it('refuses relative paths, .. elements and propagation other than None, naming the field', async () => {
    const bad = async (hostPath: Record<string, unknown>, mount: Record<string, unknown> = {}) =>
      c.run(['run', '-'], {
        input: pod('rel', {
          volumes: [{ name: 'v', hostPath }],
          containers: [box('app', 'true', { volumeMounts: [{ name: 'v', mountPath: '/v', ...mount }] })],
        }),
      });
    let r = await bad({ path: 'src' });
    expect(r.stderr).toContain('spec.volumes[0].hostPath.path: Invalid value "src": must be an absolute path');
    r = await bad({ path: '/a/../etc' });
    expect(r.stderr).toContain(`spec.volumes[0].hostPath.path: Invalid value "/a/../etc": must not contain '..'`);
    r = await bad({ path: '/tmp', type: 'Dir' });
    expect(r.stderr).toContain('spec.volumes[0].hostPath.type: Unsupported value "Dir"');
    r = await bad({ path: host }, { mountPropagation: 'HostToContainer' });
    expect(r.stderr).toContain(
      'mountPropagation: mountPropagation HostToContainer is not supported: podbox mounts volumes with None (private)',
    );
    expect(r.exitCode).not.toBe(0);
  });

  it('device types: refused rootless with one line; as root checked as the kubelet does', async () => {
    const rootless = process.getuid!() !== 0;
    const r = await c.run(['run', '-'], {
      input: pod('dev', {
        restartPolicy: 'Never',
        volumes: [{ name: 'v', hostPath: { path: '/dev/null', type: 'CharDevice' } }],
        containers: [box('app', 'echo x > /v && echo wrote', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })],
      }),
    });
    if (rootless) {
      expect(r.stderr).toBe(
        'podbox: pod "dev": volume "v": hostPath type CharDevice (/dev/null) cannot be used rootless: ' +
          'run podbox as root to pass a device into a pod, or remove the volume',
      );
      expect(r.exitCode).not.toBe(0);
    } else {
      expect(r.stdout).toBe('app | wrote');
      expect(r.exitCode).toBe(0);
    }
  });
});

describe('persistentVolumeClaim', () => {
  const claimPod = (name: string, script: string, extra: Record<string, unknown> = {}) =>
    pod(name, {
      restartPolicy: 'Never',
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'db-data', ...extra } }],
      containers: [box('app', script, { volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
    });
  const CLAIM = JSON.stringify({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'db-data', labels: { app: 'db' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });

  afterEach(async () => {
    await c.run(['volume', 'prune']);
  });

  it("keeps its data across pods: written by one, read by the next; the claim's document recorded", async () => {
    let r = await c.run(['run', '-'], { input: `${CLAIM}\n---\n${claimPod('w', 'echo kept > /data/f')}` });
    expect(r.exitCode).toBe(0);
    r = await c.run(['run', '-'], { input: claimPod('r', 'cat /data/f') });
    expect(r.stdout).toBe('app | kept');
    const v = await json(['volume', 'inspect', 'db-data']);
    expect(v).toMatchObject({
      name: 'db-data',
      origin: 'claim',
      labels: { app: 'db' },
      accessModes: ['ReadWriteOnce'],
      storage: { requested: '1Gi', enforced: false },
      size: 5,
      pods: [],
    });
    expect(readFileSync(join(v.mountpoint as string, 'f'), 'utf8')).toBe('kept\n');
    r = await c.run(['volume', 'ls']);
    expect(r.stdout).toBe('NAME      SIZE   REQUESTED            PODS\ndb-data   5 B    1Gi (not enforced)   <none>');
  });

  it('a claim with no document and no volume gets a new empty one; readOnly is honoured', async () => {
    let r = await c.run(['run', '-'], { input: claimPod('first', 'ls -A /data; echo new > /data/n') });
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(0);
    expect((await json(['volume', 'inspect', 'db-data'])).origin).toBe('first-use');
    r = await c.run(['run', '-'], {
      input: claimPod('ro', 'cat /data/n; echo x > /data/n 2>/dev/null || echo refused', { readOnly: true }),
    });
    expect(r.stdout).toBe('app | new\napp | refused');
  });

  it('rm is refused while a pod uses the volume, naming it; prune keeps it; both work once it is gone', async () => {
    expect((await c.run(['run', '-d', '-'], { input: claimPod('user', 'sleep 3600') })).exitCode).toBe(0);
    let r = await c.run(['volume', 'rm', 'db-data']);
    expect(r.stderr).toBe(
      'podbox: volume "db-data" is in use by pod(s) user: ' +
        'delete it first with `podbox delete user` (--force does not remove a volume a running pod uses)',
    );
    expect(r.exitCode).not.toBe(0);
    r = await c.run(['volume', 'rm', '--force', 'db-data']);
    expect(r.exitCode).not.toBe(0);
    expect((await c.run(['volume', 'prune'])).stdout).toBe('');
    expect((await c.run(['volume', 'ls'])).stdout).toContain('db-data   0 B    <none>      user');
    await c.run(['delete', 'user', '--now']);
    expect((await c.run(['volume', 'rm', 'db-data'])).stdout).toBe('db-data');
    expect((await c.run(['volume', 'ls', '-o', 'json'])).stdout).toBe('[]');
    r = await c.run(['volume', 'inspect', 'db-data']);
    expect(r.stderr).toBe('podbox: volume "db-data" not found: see `podbox volume ls` for the volumes there are');
  });

  it('prune removes the volumes no pod uses, files of other container users included, and nothing a symlink names', async () => {
    const keep = join(homedir(), `.podbox-volume-keep-${process.pid}`);
    mkdirSync(keep);
    writeFileSync(join(keep, 'f'), 'mine\n');
    try {
      const r = await c.run(['run', '-'], {
        input: claimPod(
          'owner',
          'mkdir /data/d && echo x > /data/d/f && chown -R 1000:1000 /data/d && chmod 700 /data/d;' +
            `ln -s ${keep} /data/keep; ln -s ${keep}/f /data/f`,
        ),
      });
      expect(r.exitCode).toBe(0);
      // Sizes count the symlinks themselves, never what they name; rootless, d (a subordinate id's,
      // mode 0700) cannot be read and is left out.
      const size = (await json(['volume', 'inspect', 'db-data'])).size;
      expect(size).toBe((process.getuid!() === 0 ? 2 : 0) + keep.length + `${keep}/f`.length);
      expect((await c.run(['volume', 'prune'])).stdout).toBe('db-data');
      expect((await c.run(['volume', 'ls', '-o', 'json'])).stdout).toBe('[]');
      expect(readFileSync(join(keep, 'f'), 'utf8')).toBe('mine\n');
    } finally {
      rmSync(keep, { recursive: true, force: true });
    }
  });

  it('refuses invalid claim names and volume names that could leave the store', async () => {
    let r = await c.run(['run', '-'], { input: claimPod('bad', 'true').replace('db-data', '../x') });
    expect(r.stderr).toContain('spec.volumes[0].persistentVolumeClaim.claimName: Invalid value "../x"');
    r = await c.run(['volume', 'rm', '../images']);
    expect(r.stderr).toContain('podbox: volume name "../images" is invalid');
    expect(existsSync(join(c.home, 'images'))).toBe(true);
  });
});

describe('symlinks planted in a host volume lead nowhere outside it', () => {
  const HOME = homedir();
  const SECRET = join(HOME, `.podbox-hostpath-secret-${process.pid}`);
  beforeEach(() => writeFileSync(SECRET, 'the-users-secret\n'));
  afterEach(() => rmSync(SECRET, { force: true }));

  it.each([
    ['hostPath', () => ({ hostPath: { path: host } })],
    ['persistentVolumeClaim', () => ({ persistentVolumeClaim: { claimName: 'planted' } })],
  ])('%s with subPath', async (_kind, source) => {
    const vol = { name: 'v', mountPath: '/vol' };
    const r = await c.run(['run', '-'], {
      input: pod('plant', {
        restartPolicy: 'Never',
        volumes: [{ name: 'v', ...source() }],
        initContainers: [box('init', `ln -s ${HOME} /vol/esc && ln -s / /vol/root`, { volumeMounts: [vol] })],
        containers: [
          box('app', `cat /h/${SECRET.split('/').pop()}; echo pwned > /h/pwned`, {
            volumeMounts: [{ name: 'v', mountPath: '/h', subPath: 'esc' }],
          }),
        ],
      }),
    });
    expect(r.stderr).toBe(
      // the prefix padded to the init container's name
      'app  | podbox: cannot start container: container "app": volume "v" subPath "esc": ' +
        'resolve_subpath_beneath: Too many levels of symbolic links',
    );
    expect(r.stdout).not.toContain('the-users-secret');
    expect(existsSync(join(HOME, 'pwned'))).toBe(false);
    expect(readFileSync(SECRET, 'utf8')).toBe('the-users-secret\n');
    await c.run(['volume', 'prune']);
  });
});
