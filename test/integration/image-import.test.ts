import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  linkSync,
  readdirSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarBytes, buildBusyboxImage, makeBusyboxRootfs, sha256 } from '../helpers/image-archive.js';
import { imageHome, hostId, tree } from '../helpers/image-store.js';

let h: ReturnType<typeof imageHome>;
let work: string;
beforeEach(() => {
  h = imageHome();
  work = mkdtempSync(join(tmpdir(), 'podbox-rootfs-'));
});
afterEach(async () => {
  await h.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const ROOT = process.getuid!() === 0;

describe('podbox image import', () => {
  it('imports a directory with --change, owners as the user sees them becoming pod root', async () => {
    const dir = join(work, 'rootfs');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'bin/tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'bin/tool'), 0o4755);
    symlinkSync('tool', join(dir, 'bin/sh'));
    linkSync(join(dir, 'bin/tool'), join(dir, 'bin/hard'));
    writeFileSync(join(dir, 'etc/conf'), 'a=b\n');
    execFileSync('mkfifo', [join(dir, 'etc/fifo')]);
    if (ROOT) chownSync(join(dir, 'etc/conf'), 1234, 5678);
    const r = await h.run([
      'image',
      'import',
      dir,
      'localhost/app:1',
      '--change',
      'ENTRYPOINT=["/bin/tool"]',
      '--change',
      'CMD=--help',
      '--change',
      'ENV=PATH=/bin',
      '-c',
      'ENV A=1 B=2',
      '--change',
      'WORKDIR=/srv',
      '--change',
      'USER=1000:1000',
      '--change',
      'EXPOSE=8080',
      '--change',
      'LABEL=k=v',
      '--change',
      'STOPSIGNAL=SIGINT',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[a-f0-9]{64}$/);
    const [img] = await h.json();
    expect(img).toEqual({
      id: r.stdout,
      names: ['localhost/app:1'],
      size: '#!/bin/sh\n'.length + 'a=b\n'.length,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(Math.abs(Date.parse(img!.created!) - Date.now())).toBeLessThan(60_000);
    const i = await h.inspect('localhost/app:1');
    expect(i.config).toEqual({
      Entrypoint: ['/bin/tool'],
      Cmd: ['/bin/sh', '-c', '--help'],
      Env: ['PATH=/bin', 'A=1', 'B=2'],
      WorkingDir: '/srv',
      User: '1000:1000',
      ExposedPorts: { '8080/tcp': {} },
      Labels: { k: 'v' },
      StopSignal: 'SIGINT',
    });
    expect(tree(i.rootfs)).toEqual(['bin/', 'bin/hard', 'bin/sh -> tool', 'bin/tool', 'etc/', 'etc/conf', 'etc/fifo|']);
    expect(statSync(join(i.rootfs, 'bin/tool')).mode & 0o7777).toBe(0o4755);
    expect(statSync(join(i.rootfs, 'bin/hard')).ino).toBe(statSync(join(i.rootfs, 'bin/tool')).ino);
    // the user's own files are pod root's; `/` is 0755 whatever the directory's mode on the host
    expect(lstatSync(join(i.rootfs, 'bin/tool')).uid).toBe(hostId(0));
    expect(statSync(i.rootfs).mode & 0o777).toBe(0o755);
    if (ROOT)
      expect([statSync(join(i.rootfs, 'etc/conf')).uid, statSync(join(i.rootfs, 'etc/conf')).gid]).toEqual([
        1234, 5678,
      ]);
    // the config records the layer as Docker does
    const config = JSON.parse(readFileSync(join(i.rootfs, '..', 'config.json'), 'utf8'));
    expect(sha256(readFileSync(join(i.rootfs, '..', 'config.json')))).toBe(i.id);
    expect(config).toMatchObject({
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [expect.stringMatching(/^sha256:[a-f0-9]{64}$/)] },
    });
  });

  it('imports a tar.gz, and a tar from stdin; a tag moves to the newer import', async () => {
    const files = [
      { path: './', dir: true },
      { path: 'home/u/', dir: true, uid: 1000, gid: 1000 },
      { path: 'home/u/f', content: 'f', uid: 1000, gid: 1000 },
    ];
    writeFileSync(join(work, 'root.tar.gz'), gzipSync(tarBytes(files)));
    const a = await h.run(['image', 'import', join(work, 'root.tar.gz'), 'x']);
    expect(a.exitCode).toBe(0);
    const ia = await h.inspect('x');
    expect(ia.names).toEqual(['docker.io/library/x:latest']);
    expect(tree(ia.rootfs)).toEqual(['home/', 'home/u/', 'home/u/f']);
    expect(JSON.parse(readFileSync(join(ia.rootfs, '..', 'config.json'), 'utf8')).rootfs.diff_ids).toEqual([
      sha256(tarBytes(files)),
    ]);
    const st = lstatSync(join(ia.rootfs, 'home/u/f'));
    if (hostId(1000) !== undefined) expect([st.uid, st.gid]).toEqual([hostId(1000), hostId(1000, 'gid')]);

    writeFileSync(join(work, 'root.tar'), tarBytes([{ path: 'only', content: '1' }]));
    const b = await h.runWithStdin(['image', 'import', '-', 'x', '--change', 'CMD ["only"]'], join(work, 'root.tar'));
    expect(b.stderr).toBe('');
    expect((await h.json()).map((i) => [i.id, i.names])).toEqual([
      [b.stdout, ['docker.io/library/x:latest']],
      [a.stdout, []],
    ]);
    expect((await h.inspect('x')).config).toEqual({ Cmd: ['only'] });
  });

  it('refuses bad changes, names and sources with one line, leaving nothing', async () => {
    mkdirSync(join(work, 'd'));
    const cases: [string[], string][] = [
      [
        ['image', 'import', join(work, 'd'), 'x', '--change', 'RUN=make'],
        "podbox: --change 'RUN=make': RUN is not supported: use one of 'CMD=…', 'ENTRYPOINT=…', 'ENV=…', 'WORKDIR=…', 'USER=…', 'EXPOSE=…', 'LABEL=…', 'STOPSIGNAL=…' (e.g. 'CMD=[\"sh\"]', 'ENV=PATH=/bin')",
      ],
      [
        ['image', 'import', join(work, 'd'), 'X'],
        'podbox: invalid image reference "X": repository name (library/X) must be lowercase: use NAME[:TAG][@DIGEST] with a lowercase name, e.g. busybox:1.36 or localhost:5000/team/app:v1',
      ],
      [
        ['image', 'import', join(work, 'd'), `x@sha256:${'a'.repeat(64)}`],
        `podbox: cannot import under "x@sha256:${'a'.repeat(64)}": a name for an import has no digest: give NAME[:TAG]`,
      ],
      [
        ['image', 'import', join(work, 'absent'), 'x'],
        `podbox: cannot read ${join(work, 'absent')}: no such file or directory: give a root filesystem as a tar (optionally gzipped) or a directory, or - for stdin`,
      ],
    ];
    for (const [args, stderr] of cases) {
      expect(await h.run(args)).toEqual({ exitCode: 1, stdout: '', stderr });
    }
    writeFileSync(
      join(work, 'evil.tar'),
      tarBytes([
        { path: 'x', symlink: '/' },
        { path: 'x/etc/pwned', content: 'x' },
      ]),
    );
    expect(await h.run(['image', 'import', join(work, 'evil.tar'), 'evil'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: image evil:latest: layer ${join(work, 'evil.tar')}: entry "x/etc/pwned" would be written through the symlink "x": podbox refuses this image (nothing of it was kept); rebuild it from a trusted source`,
    });
    expect(h.leftovers()).toEqual({ images: [], tmp: [] });
  });
});

describe('the busybox test image', () => {
  it('is imported by buildBusyboxImage and its busybox runs', async () => {
    const id = await buildBusyboxImage(h.home);
    const i = await h.inspect('localhost/busybox:test');
    expect(i.id).toBe(id);
    expect(i.config).toEqual({ Cmd: ['sh'], Env: ['PATH=/bin'] });
    const ref = mkdtempSync(join(tmpdir(), 'podbox-bbref-'));
    try {
      makeBusyboxRootfs(ref);
      expect(tree(i.rootfs)).toEqual(tree(ref));
      expect(i.size).toBe(
        statSync(join(ref, 'bin/busybox')).size +
          statSync(join(ref, 'etc/passwd')).size +
          statSync(join(ref, 'etc/group')).size,
      );
    } finally {
      rmSync(ref, { recursive: true, force: true });
    }
    for (const applet of ['sh', 'cat', 'echo', 'sleep', 'ls', 'id', 'wget', 'httpd', 'mkdir', 'ps', 'hostname']) {
      expect(lstatSync(join(i.rootfs, 'bin', applet)).isSymbolicLink()).toBe(true);
    }
    expect(statSync(join(i.rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(execFileSync(join(i.rootfs, 'bin/echo'), ['hello'], { encoding: 'utf8' })).toBe('hello\n');
    expect(readdirSync(join(i.rootfs, 'etc')).sort()).toEqual(['group', 'passwd']);
  });
});
