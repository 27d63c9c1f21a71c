import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
  DEFAULT_CREATED,
  type ImageSpec,
} from '../helpers/image-archive.js';
import { imageHome, hostId, tree } from '../helpers/image-store.js';

let h: ReturnType<typeof imageHome>;
let work: string;
beforeEach(() => {
  h = imageHome();
  work = mkdtempSync(join(tmpdir(), 'podbox-archives-'));
});
afterEach(async () => {
  await h.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Two layers exercising whiteouts, an opaque directory, links, owners and modes. */
const layered = (tags: string[], extra: Partial<ImageSpec> = {}): ImageSpec => ({
  tags,
  layers: [
    {
      files: [
        { path: 'bin/', dir: true },
        { path: 'bin/busybox', content: 'BUSYBOX', mode: 0o755 },
        { path: 'bin/sh', symlink: 'busybox' },
        { path: 'bin/ls', link: 'bin/busybox' },
        { path: 'etc/', dir: true },
        { path: 'etc/hello', content: 'hello\n', uid: 1000, gid: 1001, mode: 0o640 },
        { path: 'etc/gone', content: 'x' },
        { path: 'opq/', dir: true },
        { path: 'opq/old', content: 'old' },
        { path: 'var/lib/x', content: 'x' },
      ],
    },
    {
      gzip: true,
      files: [
        { path: 'etc/.wh.gone', content: '' },
        { path: 'opq/', dir: true },
        { path: 'opq/.wh..wh..opq', content: '' },
        { path: 'opq/new', content: 'new' },
        { path: '.wh.var', content: '' },
        { path: 'tmp/', dir: true, mode: 0o1777 },
      ],
    },
  ],
  config: {
    Entrypoint: ['/bin/sh'],
    Cmd: ['-c', 'echo hi'],
    Env: ['PATH=/bin'],
    WorkingDir: '/etc',
    User: '1000',
    StopSignal: 'SIGQUIT',
  },
  ...extra,
});
const LAYERED_TREE = [
  'bin/',
  'bin/busybox',
  'bin/ls',
  'bin/sh -> busybox',
  'etc/',
  'etc/hello',
  'opq/',
  'opq/new',
  'tmp/',
];
const LAYERED_SIZE = 'BUSYBOX'.length + 'hello\n'.length + 'new'.length;

describe('podbox image load', () => {
  it('loads a docker-archive: every tag, all layers flattened, whiteouts applied, owners as a pod sees them', async () => {
    const [img] = writeDockerArchive(join(work, 'a.tar'), layered(['busybox:1.36', 'localhost/x:y']));
    const r = await h.run(['image', 'load', join(work, 'a.tar')]);
    expect(r).toEqual({
      exitCode: 0,
      stdout: 'Loaded image: docker.io/library/busybox:1.36\nLoaded image: localhost/x:y',
      stderr: '',
    });
    expect(await h.json()).toEqual([
      {
        id: img!.id,
        names: ['docker.io/library/busybox:1.36', 'localhost/x:y'],
        size: LAYERED_SIZE,
        created: DEFAULT_CREATED,
      },
    ]);

    const i = await h.inspect('busybox:1.36');
    expect(i.id).toBe(img!.id);
    expect(i.config).toEqual({
      Entrypoint: ['/bin/sh'],
      Cmd: ['-c', 'echo hi'],
      Env: ['PATH=/bin'],
      WorkingDir: '/etc',
      User: '1000',
      StopSignal: 'SIGQUIT',
    });
    expect(i.rootfs).toBe(join(h.home, 'images', 'sha256', img!.id.slice(7), 'rootfs'));
    expect(tree(i.rootfs)).toEqual(LAYERED_TREE);
    // (mode 0640 of pod uid 1000: a rootless test cannot read it, only stat it)
    expect(statSync(join(i.rootfs, 'etc/hello')).size).toBe('hello\n'.length);
    expect(readFileSync(join(i.rootfs, 'bin/busybox'), 'utf8')).toBe('BUSYBOX');
    expect(statSync(join(i.rootfs, 'bin/ls')).ino).toBe(statSync(join(i.rootfs, 'bin/busybox')).ino);
    expect(statSync(join(i.rootfs, 'etc/hello')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(i.rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    const st = lstatSync(join(i.rootfs, 'etc/hello'));
    if (hostId(1000) !== undefined) expect([st.uid, st.gid]).toEqual([hostId(1000), hostId(1001, 'gid')]);
    expect(lstatSync(join(i.rootfs, 'bin/busybox')).uid).toBe(hostId(0));
    // the store is private to its user
    expect(statSync(join(h.home, 'images')).mode & 0o777).toBe(0o700);
    expect(h.leftovers()).toEqual({ images: [img!.id.slice(7)], tmp: [] });
  });

  it('loads docker 25 archives (blobs/sha256) from stdin, gzipped', async () => {
    const [img] = writeDockerArchive(join(work, 'a.tar.gz'), layered(['app:v1']), { format: 'blobs', gzip: true });
    const r = await h.runWithStdin(['image', 'load', '-'], join(work, 'a.tar.gz'));
    expect(r).toEqual({ exitCode: 0, stdout: 'Loaded image: docker.io/library/app:v1', stderr: '' });
    expect(await h.json()).toEqual([
      { id: img!.id, names: ['docker.io/library/app:v1'], size: LAYERED_SIZE, created: DEFAULT_CREATED },
    ]);
    expect(tree((await h.inspect('app:v1')).rootfs)).toEqual(LAYERED_TREE);
  });

  it('loads an OCI archive with a nested index, addressable by tag and by manifest digest', async () => {
    const [img] = writeOciArchive(join(work, 'o.tar'), layered(['quay.io/a/b:c', 'quay.io/a/b:d']), { nested: true });
    const r = await h.run(['image', 'load', join(work, 'o.tar')]);
    expect(r).toEqual({ exitCode: 0, stdout: 'Loaded image: quay.io/a/b:c\nLoaded image: quay.io/a/b:d', stderr: '' });
    expect(await h.json()).toEqual([
      { id: img!.id, names: ['quay.io/a/b:c', 'quay.io/a/b:d'], size: LAYERED_SIZE, created: DEFAULT_CREATED },
    ]);
    const byDigest = await h.inspect(`quay.io/a/b@${img!.manifestDigest}`);
    expect(byDigest.id).toBe(img!.id);
    expect(byDigest.digests).toEqual([`quay.io/a/b@${img!.manifestDigest}`]);
    expect((await h.inspect(`quay.io/a/b:zzz@${img!.manifestDigest}`)).id).toBe(img!.id);
    expect(tree(byDigest.rootfs)).toEqual(LAYERED_TREE);
  });

  it('loads an OCI image-layout directory named the containerd way', async () => {
    const [img] = writeOciLayout(join(work, 'layout'), layered(['docker.io/library/nginx:1.25', 'ghcr.io/o/n:1']), {
      naming: 'containerd',
    });
    const r = await h.run(['image', 'load', join(work, 'layout')]);
    expect(r).toEqual({
      exitCode: 0,
      stdout: 'Loaded image: docker.io/library/nginx:1.25\nLoaded image: ghcr.io/o/n:1',
      stderr: '',
    });
    expect((await h.json()).map((i) => [i.id, i.names])).toEqual([
      [img!.id, ['docker.io/library/nginx:1.25', 'ghcr.io/o/n:1']],
    ]);
  });

  it('loads an image with no name; it is addressable by id and short id', async () => {
    const [img] = writeOciArchive(join(work, 'o.tar'), layered([]), { naming: 'none' });
    const r = await h.run(['image', 'load', join(work, 'o.tar')]);
    expect(r).toEqual({ exitCode: 0, stdout: `Loaded image ID: ${img!.id}`, stderr: '' });
    expect(await h.json()).toEqual([{ id: img!.id, names: [], size: LAYERED_SIZE, created: DEFAULT_CREATED }]);
    expect((await h.inspect(img!.id)).id).toBe(img!.id);
    expect((await h.inspect(img!.id.slice(7, 19))).id).toBe(img!.id);
    const rm = await h.run(['image', 'rm', img!.id.slice(7, 19)]);
    expect(rm).toEqual({ exitCode: 0, stdout: `Deleted: ${img!.id}`, stderr: '' });
    expect(h.leftovers()).toEqual({ images: [], tmp: [] });
  });

  it('prints a podman-like table', async () => {
    const created = new Date(Date.now() - 3 * 3600_000 - 60_000).toISOString();
    const [img] = writeDockerArchive(
      join(work, 'a.tar'),
      layered(['busybox:1.36', 'localhost:5000/team/app:v1'], { created }),
    );
    await h.run(['image', 'load', join(work, 'a.tar')]);
    const r = await h.run(['image', 'ls']);
    const id = img!.id.slice(7, 19);
    expect(r).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: [
        'REPOSITORY                  TAG    IMAGE ID       CREATED       SIZE',
        `docker.io/library/busybox   1.36   ${id}   3 hours ago   16 B`,
        `localhost:5000/team/app     v1     ${id}   3 hours ago   16 B`,
      ].join('\n'),
    });
  });

  it('is idempotent, and a tag loaded again for another image moves to it', async () => {
    const [a] = writeDockerArchive(join(work, 'a.tar'), layered(['x:1', 'x:2']));
    expect((await h.run(['image', 'load', join(work, 'a.tar')])).exitCode).toBe(0);
    expect(await h.run(['image', 'load', join(work, 'a.tar')])).toEqual({
      exitCode: 0,
      stdout: 'Loaded image: docker.io/library/x:1\nLoaded image: docker.io/library/x:2',
      stderr: '',
    });
    const [b] = writeDockerArchive(
      join(work, 'b.tar'),
      layered(['x:2'], { config: { Cmd: ['other'] }, created: '2024-02-01T00:00:00Z' }),
    );
    expect((await h.run(['image', 'load', join(work, 'b.tar')])).stdout).toBe('Loaded image: docker.io/library/x:2');
    expect((await h.json()).map((i) => [i.id, i.names])).toEqual([
      [b!.id, ['docker.io/library/x:2']],
      [a!.id, ['docker.io/library/x:1']],
    ]);
    expect((await h.inspect('x:2')).config).toEqual({ Cmd: ['other'] });
  });
});

describe('work directories', () => {
  it('a load cleans up what a killed load left behind, and keeps what a running one is doing', async () => {
    const dead = join(h.home, 'images', 'tmp', '4194305-image-0123456789ab');
    const live = join(h.home, 'images', 'tmp', `${process.pid}-image-0123456789ab`);
    mkdirSync(join(dead, 'rootfs', 'etc'), { recursive: true });
    mkdirSync(live, { recursive: true });
    writeDockerArchive(join(work, 'a.tar'), layered(['x:1']));
    expect((await h.run(['image', 'load', join(work, 'a.tar')])).exitCode).toBe(0);
    expect(h.leftovers().tmp).toEqual([`${process.pid}-image-0123456789ab`]);
    rmSync(live, { recursive: true });
  });
});

describe('podbox image rm', () => {
  it('untags a name, deletes the image with its last name, and says so as docker rmi does', async () => {
    const [img] = writeOciArchive(join(work, 'o.tar'), layered(['quay.io/a/b:1', 'busybox:2']));
    await h.run(['image', 'load', join(work, 'o.tar')]);
    // the last tag of a repository takes the repository's digest reference with it
    expect(await h.run(['image', 'rm', 'busybox:2'])).toEqual({
      exitCode: 0,
      stdout: `Untagged: busybox:2\nUntagged: busybox@${img!.manifestDigest}`,
      stderr: '',
    });
    expect((await h.json()).map((i) => i.names)).toEqual([['quay.io/a/b:1']]);
    expect(await h.run(['image', 'rm', 'quay.io/a/b:1'])).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: `Untagged: quay.io/a/b:1\nUntagged: quay.io/a/b@${img!.manifestDigest}\nDeleted: ${img!.id}`,
    });
    expect(await h.json()).toEqual([]);
    expect(h.leftovers()).toEqual({ images: [], tmp: [] });
  });

  it('refuses to delete by id an image with several names unless forced', async () => {
    const [img] = writeDockerArchive(join(work, 'a.tar'), layered(['x:1', 'y:1']));
    await h.run(['image', 'load', join(work, 'a.tar')]);
    const r = await h.run(['image', 'rm', img!.id]);
    expect(r).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: image ${img!.id.slice(7, 19)} has several names (x:1, y:1): remove them by name one at a time, or use --force to remove the image with all of them`,
    });
    expect(await h.run(['image', 'rm', '-f', img!.id])).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: `Untagged: x:1\nUntagged: y:1\nDeleted: ${img!.id}`,
    });
    expect(h.leftovers()).toEqual({ images: [], tmp: [] });
  });

  it('says clearly when an image is not there, or a reference is invalid', async () => {
    expect(await h.run(['image', 'rm', 'nothere'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'podbox: image "nothere:latest" is not present: load it with `podbox image load FILE` or make it with `podbox image import ROOTFS nothere:latest` (`podbox image ls` lists the images)',
    });
    const bad = await h.run(['image', 'inspect', 'Bad:Name']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe(
      'podbox: invalid image reference "Bad:Name": repository name (library/Bad) must be lowercase: use NAME[:TAG][@DIGEST] with a lowercase name, e.g. busybox:1.36 or localhost:5000/team/app:v1',
    );
  });
});
