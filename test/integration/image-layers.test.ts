import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { PODBOX, until } from '../helpers/cli.js';
import { podTestHome, pod } from '../helpers/pods.js';
import { makeBusyboxRootfs, writeDockerArchive, type FileSpec } from '../helpers/image-archive.js';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { humanSize } from '../../src/cli/image.js';

/**
 * The layer store: unpacked layers kept once by diff id and shared by the images that list them
 * (their rootfs files are hard links to the layer's), removed with the last image that uses them
 * or by prune, and never under a pull that is about to use them.
 */
const c = podTestHome();
const images = join(c.home, 'images');
const hexOf = (d: string) => d.slice(7);
const layerDirs = () => (existsSync(join(images, 'layers')) ? readdirSync(join(images, 'layers')).sort() : []);
const diffIds = (id: string): string[] =>
  (
    JSON.parse(readFileSync(join(images, 'sha256', hexOf(id), 'config.json'), 'utf8')) as {
      rootfs: { diff_ids: string[] };
    }
  ).rootfs.diff_ids;
const rootfs = (id: string) => join(images, 'sha256', hexOf(id), 'rootfs');
const blobSize = (digest: string) => statSync(join(images, 'blobs', 'sha256', hexOf(digest))).size;

/**
 * busybox-static as one layer of fixed bytes (every time the same tar, so the same diff id): the
 * base layer images of this file share. pushImage's own busybox layer carries the time it was made.
 */
function busyboxLayer(): FileSpec[] {
  const bin = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))!;
  const applets = execFileSync(bin, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  return [
    { path: 'bin', dir: true, mode: 0o755 },
    { path: 'bin/busybox', content: readFileSync(bin), mode: 0o755 },
    ...applets.map((a) => ({ path: `bin/${a}`, symlink: 'busybox' })),
    { path: 'etc', dir: true, mode: 0o755 },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/group', content: 'root:x:0:\n' },
  ];
}
const BUSYBOX = busyboxLayer();

describe('image layers', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
  });

  const pull = async (ref: string) => {
    const r = await c.run(['image', 'pull', '-q', `${reg.host}/${ref}`]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    return r.stdout;
  };
  const runIn = async (name: string, image: string, script: string) =>
    c.run(['run', '-'], {
      input: pod(name, {
        restartPolicy: 'Never',
        containers: [{ name: 'app', image, imagePullPolicy: 'Never', command: ['sh', '-c', script] }],
      }),
    });

  it('stores a shared base layer once; rm keeps the other image runnable; prune takes the unused', async () => {
    const before = layerDirs();
    await pushImage(reg.host, 'share/a:1', { layers: [BUSYBOX, [{ path: 'a', content: 'a\n' }]] });
    const pb = await pushImage(reg.host, 'share/b:1', { layers: [BUSYBOX, [{ path: 'b', content: 'b\n' }]] });
    const a = await pull('share/a:1');
    const b = await pull('share/b:1');
    const [base, la] = diffIds(a);
    const [baseB, lb] = diffIds(b);
    expect(baseB).toBe(base);
    expect(layerDirs()).toEqual([...before, ...[base!, la!, lb!].map(hexOf)].sort());
    // One inode for busybox: the layer's file, and each image's rootfs links to it.
    const ino = statSync(join(images, 'layers', hexOf(base!), 'diff/bin/busybox')).ino;
    expect(statSync(join(rootfs(a), 'bin/busybox')).ino).toBe(ino);
    expect(statSync(join(rootfs(b), 'bin/busybox')).ino).toBe(ino);

    const rm = await c.run(['image', 'rm', `${reg.host}/share/b:1`]);
    expect(rm).toEqual({
      exitCode: 0,
      stdout: [`Untagged: ${reg.host}/share/b:1`, `Untagged: ${reg.host}/share/b@${pb.digest}`, `Deleted: ${b}`].join(
        '\n',
      ),
      stderr: '',
    });
    expect(layerDirs()).toEqual([...before, ...[base!, la!].map(hexOf)].sort());
    expect(await runIn('share-a', `${reg.host}/share/a:1`, 'cat /a; test -e /b || echo no b')).toEqual({
      exitCode: 0,
      stdout: 'app | a\napp | no b',
      stderr: '',
    });

    // An image without a name (loaded from an archive that gives it none) over the same base: prune takes
    // it and the layer only it lists, keeps the shared base, and the blob b's own layer left.
    const archive = join(c.home, 'unnamed.tar');
    const [u] = writeDockerArchive(archive, {
      layers: [{ files: BUSYBOX }, { files: [{ path: 'u', content: 'u\n' }] }],
    });
    expect((await c.run(['image', 'load', archive])).stdout).toBe(`Loaded image ID: ${u!.id}`);
    const lu = u!.layers[1]!.diffId;
    expect(layerDirs()).toEqual([...before, ...[base!, la!, lu].map(hexOf)].sort());
    const freed = 2 + blobSize(pb.layers[1]!);
    const pruned = await c.run(['image', 'prune']);
    expect(pruned).toEqual({
      exitCode: 0,
      stdout: [
        `Deleted: ${u!.id}`,
        `Deleted layer: ${lu}`,
        `Total reclaimed space from layers: ${humanSize(freed)}`,
      ].join('\n'),
      stderr: '',
    });
    expect(layerDirs()).toEqual([...before, ...[base!, la!].map(hexOf)].sort());
    expect((await c.run(['image', 'rm', `${reg.host}/share/a:1`])).exitCode).toBe(0);
    expect(layerDirs()).toEqual(before);
  });

  it('applies whiteouts, opaque directories and hardlinks as the container sees them', async () => {
    await pushImage(reg.host, 'wh/app:1', {
      layers: [
        BUSYBOX,
        [
          { path: 'etc/gone', content: 'deleted above\n' },
          { path: 'etc/kept', content: 'kept\n' },
          { path: 'opq/old', content: 'hidden by the opaque dir\n' },
          { path: 'opq/sub/deep', content: 'hidden too\n' },
          { path: 'data/f', content: 'linked\n' },
          { path: 'data/g', link: 'data/f' },
          { path: 'dir-then-file/x', content: 'replaced\n' },
        ],
        [
          { path: 'etc/.wh.gone', content: '' },
          { path: 'opq/.wh..wh..opq', content: '' },
          { path: 'opq/new', content: 'new\n' },
          { path: 'data/h', link: 'data/f' },
          { path: '.wh.dir-then-file', content: '' },
          { path: 'dir-then-file', content: 'a file now\n' },
        ],
      ],
    });
    const id = await pull('wh/app:1');
    // On disk: the whiteouts are marks of the layer, never files of it.
    const top = diffIds(id)[2]!;
    expect(JSON.parse(readFileSync(join(images, 'layers', hexOf(top), 'layer.json'), 'utf8'))).toEqual({
      diffId: top,
      size: 15,
      whiteouts: ['etc/gone', 'dir-then-file'],
      opaque: ['opq'],
      links: [['data/h', 'data/f']],
    });
    const r = await runIn(
      'wh',
      `${reg.host}/wh/app:1`,
      'test -e /etc/gone || echo gone; cat /etc/kept; ls -A /opq; cat /dir-then-file; ' +
        'stat -c %i /data/f /data/g /data/h | uniq | wc -l; cat /data/h',
    );
    expect(r).toEqual({
      exitCode: 0,
      stdout: ['gone', 'kept', 'new', 'a file now', '1', 'linked'].map((l) => `app | ${l}`).join('\n'),
      stderr: '',
    });
    expect((await c.run(['image', 'rm', `${reg.host}/wh/app:1`])).exitCode).toBe(0);
    // (the blobs of the pulls so far, for the exact prune outputs below)
    expect((await c.run(['image', 'prune'])).exitCode).toBe(0);
  });

  it('runs and removes an image stored before layers were shared (a rootfs of its own)', async () => {
    // The layout of earlier versions: sha256/<id>/{config.json, meta.json, rootfs/}, no layers/.
    const config = Buffer.from(
      JSON.stringify({
        architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
        os: 'linux',
        config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
        rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] },
      }),
    );
    const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const dir = join(images, 'sha256', hexOf(id));
    mkdirSync(join(dir, 'rootfs'), { recursive: true });
    makeBusyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'config.json'), config);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ size: 1, loaded: '2026-01-01T00:00:00Z' }));
    const index = JSON.parse(readFileSync(join(images, 'repositories.json'), 'utf8')) as {
      refs: Record<string, string>;
    };
    index.refs['localhost/old:1'] = id;
    writeFileSync(join(images, 'repositories.json'), JSON.stringify(index));
    const before = layerDirs();

    expect(await runIn('old', 'localhost/old:1', 'echo ran')).toEqual({ exitCode: 0, stdout: 'app | ran', stderr: '' });
    expect(await c.run(['image', 'prune'])).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(existsSync(join(dir, 'rootfs/bin/busybox'))).toBe(true);
    expect(await c.run(['image', 'rm', 'localhost/old:1'])).toEqual({
      exitCode: 0,
      stdout: `Untagged: localhost/old:1\nDeleted: ${id}`,
      stderr: '',
    });
    expect(existsSync(dir)).toBe(false);
    expect(layerDirs()).toEqual(before);
  });

  it('rm and prune during a pull neither hang it nor delete a layer or blob it is about to use', async () => {
    const before = layerDirs();
    const pbase = await pushImage(reg.host, 'race/base:1', {
      layers: [BUSYBOX, [{ path: 'base', content: 'base\n' }]],
    });
    const pushed = await pushImage(reg.host, 'race/app:1', {
      layers: [BUSYBOX, [{ path: 'held', content: 'held back\n' }], [{ path: 'small', content: 'small\n' }]],
    });
    const base = await pull('race/base:1');
    const [shared, baseOnly] = diffIds(base);

    // A proxy that holds back the body of the middle layer until released; the others pass.
    const gate = await holdingProxy(reg.host, pushed.layers[1]!);
    const pulling = execa(PODBOX, ['image', 'pull', '-q', `${gate.host}/race/app:1`], {
      env: c.env,
      reject: false,
      timeout: 60_000,
    });
    const blobs = join(images, 'blobs', 'sha256');
    await until('the pull to hold a lease, the held layer to start and the last layer to be complete', () => {
      const leases = existsSync(join(images, 'leases')) ? readdirSync(join(images, 'leases')) : [];
      return (
        leases.length === 1 &&
        gate.holding() &&
        existsSync(join(blobs, hexOf(pushed.layers[2]!))) &&
        !existsSync(join(blobs, `${hexOf(pushed.layers[2]!)}.partial`))
      );
    });

    // The base image goes: its own layer with it, the shared one stays (the pull uses it).
    const rm = await c.run(['image', 'rm', `${reg.host}/race/base:1`]);
    expect([rm.exitCode, rm.stderr, rm.stdout.split('\n').at(-1)]).toEqual([0, '', `Deleted: ${base}`]);
    expect(layerDirs()).toEqual([...before, hexOf(shared!)].sort());
    expect(layerDirs()).not.toContain(hexOf(baseOnly!));
    // Only the base image's own blob goes; the pull's blobs (complete or not) stay.
    const freed = blobSize(pbase.layers[1]!);
    expect(await c.run(['image', 'prune'])).toEqual({
      exitCode: 0,
      stdout: `Total reclaimed space from layers: ${humanSize(freed)}`,
      stderr: '',
    });
    for (const l of [pushed.layers[0]!, pushed.layers[2]!]) expect(existsSync(join(blobs, hexOf(l)))).toBe(true);

    gate.release();
    const r = await pulling;
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, pushed.ids[0], '']);
    await gate.stop();
    const app = pushed.ids[0]!;
    expect(layerDirs()).toEqual([...before, ...diffIds(app).map(hexOf)].sort());
    expect(await runIn('race', `${gate.host}/race/app:1`, 'cat /held /small; test -e /base || echo no base')).toEqual({
      exitCode: 0,
      stdout: 'app | held back\napp | small\napp | no base',
      stderr: '',
    });
    expect((await c.run(['image', 'rm', `${gate.host}/race/app:1`])).exitCode).toBe(0);
    expect(layerDirs()).toEqual(before);
    expect(readdirSync(join(images, 'leases'))).toEqual([]);
  });
});

/** A proxy to `target` that sends the headers of blob `digest` at once and its body only on release(). */
async function holdingProxy(
  target: string,
  digest: string,
): Promise<{ host: string; holding(): boolean; release(): void; stop(): Promise<void> }> {
  let held: (() => void)[] | undefined = [];
  let holding = false;
  const server: Server = createServer((req, res) => {
    const up = request(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (held && req.method === 'GET' && req.url?.endsWith(`/blobs/${digest}`) && ur.statusCode === 200) {
        holding = true;
        res.flushHeaders();
        held.push(() => ur.pipe(res));
        return;
      }
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    holding: () => holding,
    release: () => {
      const h = held ?? [];
      held = undefined;
      for (const f of h) f();
    },
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
