import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { applyLayerFile, cleanEntryPath, detectCompression, type LayerResult } from '../../src/image/layer.js';
import { PodboxError } from '../../src/errors.js';
import { tarBytes, sha256, DEFAULT_MTIME, type FileSpec } from '../helpers/image-archive.js';

const ROOT = process.getuid!() === 0;
// Outside a user namespace an unprivileged test cannot chown to other ids: only then, and only
// because the option says so, are chown failures tolerated.
const OPTS = { ignoreChownErrors: !ROOT };

let work: string,
  root: string,
  outside: string,
  n = 0;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'podbox-layer-'));
  root = join(work, 'root');
  outside = join(work, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function layerFile(bytes: Buffer): string {
  const f = join(work, `layer${n++}`);
  writeFileSync(f, bytes);
  return f;
}

async function apply(files: FileSpec[], o: { gzip?: boolean; digest?: string } = {}): Promise<LayerResult> {
  const tar = tarBytes(files);
  return applyLayerFile(root, layerFile(o.gzip ? gzipSync(tar) : tar), { name: 'L', ...OPTS, digest: o.digest });
}

async function refused(p: Promise<unknown>): Promise<PodboxError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PodboxError);
  return err as PodboxError;
}

/** Every path under root, sorted, with a type mark: `d/`, `l -> target`, `f`. */
function tree(dir = root, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name),
      rel = prefix + name,
      st = lstatSync(p);
    if (st.isDirectory()) out.push(`${rel}/`, ...tree(p, `${rel}/`));
    else if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isFIFO()) out.push(`${rel}|`);
    else out.push(rel);
  }
  return out;
}

const outsideUntouched = () => expect(readdirSync(outside)).toEqual(['secret']);

describe('applying a layer', () => {
  it('writes files, directories, symlinks, hardlinks and fifos with their modes and times', async () => {
    const r = await apply([
      { path: './', dir: true, mode: 0o755 },
      { path: 'bin/', dir: true, mode: 0o755 },
      { path: 'bin/busybox', content: 'BB', mode: 0o4755 },
      { path: 'bin/sh', symlink: 'busybox' },
      { path: 'bin/ls', link: 'bin/busybox' },
      { path: 'etc/mtab', symlink: '/proc/mounts' },
      { path: 'etc/hosts', content: '127.0.0.1 localhost\n', mode: 0o600, mtime: 1_600_000_000 },
      { path: 'tmp/', dir: true, mode: 0o1777 },
      { path: 'run/fifo', fifo: true, mode: 0o620 },
      { path: 'a/very/' + 'long/'.repeat(30) + 'name', content: 'deep' },
    ]);
    expect(tree().filter((p) => !p.startsWith('a/'))).toEqual([
      'bin/',
      'bin/busybox',
      'bin/ls',
      'bin/sh -> busybox',
      'etc/',
      'etc/hosts',
      'etc/mtab -> /proc/mounts',
      'run/',
      'run/fifo|',
      'tmp/',
    ]);
    expect(readFileSync(join(root, 'a/very/' + 'long/'.repeat(30) + 'name'), 'utf8')).toBe('deep');
    expect(statSync(join(root, 'bin/busybox')).mode & 0o7777).toBe(0o4755);
    expect(statSync(join(root, 'bin/ls')).ino).toBe(statSync(join(root, 'bin/busybox')).ino);
    expect(statSync(join(root, 'etc/hosts')).mode & 0o7777).toBe(0o600);
    expect(statSync(join(root, 'etc/hosts')).mtimeMs).toBe(1_600_000_000_000);
    expect(statSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(root, 'run/fifo')).mode & 0o7777).toBe(0o620);
    // directory times are set after their contents are written
    expect(statSync(join(root, 'bin')).mtimeMs).toBe(DEFAULT_MTIME * 1000);
    expect(lstatSync(join(root, 'bin/sh')).mtimeMs).toBe(DEFAULT_MTIME * 1000);
    // implicit parents are 0755
    expect(statSync(join(root, 'etc')).mode & 0o7777).toBe(0o755);
    expect(r.skippedDevices).toEqual([]);
    expect(r.diffId).toBe(r.digest);
  });

  // CI runs the suite both as root and as an unprivileged user, so each branch runs there.
  it(
    ROOT
      ? 'keeps uid and gid of every entry (as root)'
      : 'fails on a chown it cannot do unless told to tolerate it (unprivileged)',
    async () => {
      if (ROOT) {
        const r = await apply([
          { path: 'home/', dir: true, uid: 1000, gid: 1001 },
          { path: 'home/f', content: 'x', uid: 1000, gid: 100, mode: 0o6755 },
          { path: 'home/l', symlink: 'f', uid: 33, gid: 34 },
          { path: 'nobody', content: '', uid: 65534, gid: 65534 },
        ]);
        const own = (p: string) => {
          const s = lstatSync(join(root, p));
          return [s.uid, s.gid];
        };
        expect(own('home')).toEqual([1000, 1001]);
        expect(own('home/f')).toEqual([1000, 100]);
        expect(own('home/l')).toEqual([33, 34]);
        expect(own('nobody')).toEqual([65534, 65534]);
        // chown before chmod: the set-id bits survive
        expect(statSync(join(root, 'home/f')).mode & 0o7777).toBe(0o6755);
        expect(r.chownFailures).toBe(0);
      } else {
        const tar = tarBytes([{ path: 'f', content: 'x', uid: 4242, gid: 4242 }]);
        const err = await refused(applyLayerFile(root, layerFile(tar), { name: 'L' }));
        expect(err.code).toBe('HostNotReady');
        expect(err.message).toBe('layer L: cannot give f the owner 4242:4242 (EPERM)');
        rmSync(root, { recursive: true });
        mkdirSync(root);
        const r = await applyLayerFile(root, layerFile(tar), { name: 'L', ignoreChownErrors: true });
        expect(r.chownFailures).toBe(1);
        expect(readFileSync(join(root, 'f'), 'utf8')).toBe('x');
      }
    },
  );

  it('skips device nodes and reports them', async () => {
    const r = await apply([
      { path: 'dev/null', device: 'char' },
      { path: 'dev/sda', device: 'block' },
      { path: 'dev/ok', content: '' },
    ]);
    expect(r.skippedDevices).toEqual(['dev/null', 'dev/sda']);
    expect(tree()).toEqual(['dev/', 'dev/ok']);
  });

  it('computes the diff id of the uncompressed tar and the digest of the blob', async () => {
    const files = [{ path: 'x', content: 'hello' }];
    const tar = tarBytes(files),
      gz = gzipSync(tar);
    const r = await applyLayerFile(root, layerFile(gz), { name: 'L', ...OPTS, digest: sha256(gz) });
    expect(r.diffId).toBe(sha256(tar));
    expect(r.digest).toBe(sha256(gz));
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('hello');
  });

  it('accepts an empty layer (only end-of-archive blocks, or no bytes at all)', async () => {
    expect((await applyLayerFile(root, layerFile(Buffer.alloc(1024)), { name: 'L' })).diffId).toBe(
      sha256(Buffer.alloc(1024)),
    );
    expect((await applyLayerFile(root, layerFile(gzipSync(Buffer.alloc(1024))), { name: 'L' })).diffId).toBe(
      sha256(Buffer.alloc(1024)),
    );
    expect((await applyLayerFile(root, layerFile(Buffer.alloc(0)), { name: 'L' })).diffId).toBe(
      sha256(Buffer.alloc(0)),
    );
    expect(tree()).toEqual([]);
  });

  it('replaces what is there: a file by a dir, a dir by a file, a symlink by a file (not through it)', async () => {
    await apply([
      { path: 'a', content: 'file' },
      { path: 'b/', dir: true },
      { path: 'b/inner', content: 'x' },
      { path: 'c', symlink: '../outside/secret' },
    ]);
    await apply([
      { path: 'a/', dir: true },
      { path: 'b', content: 'now a file' },
      { path: 'c', content: 'mine' },
    ]);
    expect(tree()).toEqual(['a/', 'b', 'c']);
    expect(readFileSync(join(root, 'c'), 'utf8')).toBe('mine');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  });

  it('keeps the contents of a directory the layer mentions again', async () => {
    await apply([
      { path: 'd/', dir: true, mode: 0o755 },
      { path: 'd/old', content: '1' },
    ]);
    await apply([
      { path: 'd/', dir: true, mode: 0o750 },
      { path: 'd/new', content: '2' },
    ]);
    expect(tree()).toEqual(['d/', 'd/new', 'd/old']);
    expect(statSync(join(root, 'd')).mode & 0o7777).toBe(0o750);
  });
});

describe('whiteouts', () => {
  beforeEach(async () => {
    await apply([
      { path: 'etc/', dir: true },
      { path: 'etc/a', content: 'a' },
      { path: 'etc/b', content: 'b' },
      { path: 'etc/sub/', dir: true },
      { path: 'etc/sub/c', content: 'c' },
      { path: 'var/', dir: true },
      { path: 'var/lib/', dir: true },
      { path: 'var/lib/x', content: 'x' },
      { path: 'link', symlink: '../outside' },
    ]);
  });

  it('.wh.NAME deletes a file, a directory or a symlink (not what it points to) of a lower layer', async () => {
    await apply([
      { path: 'etc/.wh.a', content: '' },
      { path: 'etc/.wh.sub', content: '' },
      { path: '.wh.link', content: '' },
      { path: 'etc/.wh.absent', content: '' },
    ]);
    expect(tree()).toEqual(['etc/', 'etc/b', 'var/', 'var/lib/', 'var/lib/x']);
    outsideUntouched();
  });

  it('.wh..wh..opq empties its directory but keeps what the same layer puts there', async () => {
    await apply([
      { path: 'etc/', dir: true },
      { path: 'etc/.wh..wh..opq', content: '' },
      { path: 'etc/new', content: 'n' },
      { path: 'etc/sub/', dir: true },
      { path: 'etc/sub/d', content: 'd' },
    ]);
    expect(tree()).toEqual([
      'etc/',
      'etc/new',
      'etc/sub/',
      'etc/sub/d',
      'link -> ../outside',
      'var/',
      'var/lib/',
      'var/lib/x',
    ]);
  });

  it('an opaque marker written after new entries keeps them', async () => {
    await apply([
      { path: 'var/lib/y', content: 'y' },
      { path: 'var/lib/.wh..wh..opq', content: '' },
    ]);
    expect(tree().filter((p) => p.startsWith('var'))).toEqual(['var/', 'var/lib/', 'var/lib/y']);
  });

  it('writes no whiteout file into the rootfs, even under a directory that does not exist', async () => {
    await apply([
      { path: 'nothere/.wh.x', content: '' },
      { path: 'nothere2/.wh..wh..opq', content: '' },
    ]);
    expect(tree().some((p) => p.includes('.wh.'))).toBe(false);
    expect(existsSync(join(root, 'nothere'))).toBe(false);
  });

  it('refuses whiteouts through a symlink, leaving what it points to', async () => {
    let err = await refused(apply([{ path: 'link/.wh.secret', content: '' }]));
    expect(err.code).toBe('UnsafeLayer');
    expect(err.message).toBe('layer L: entry "link/.wh.secret" would be written through the symlink "link"');
    err = await refused(apply([{ path: 'link/.wh..wh..opq', content: '' }]));
    expect(err.code).toBe('UnsafeLayer');
    outsideUntouched();
  });

  it('refuses a whiteout of ".."', async () => {
    const err = await refused(apply([{ path: 'etc/.wh...', content: '' }]));
    expect(err.code).toBe('UnsafeLayer');
    expect(existsSync(join(root, 'etc/a'))).toBe(true);
  });
});

describe('hostile layers are refused', () => {
  it.each<[string, FileSpec[], string]>([
    ['an absolute path', [{ path: '/etc/passwd', content: 'x' }], 'entry "/etc/passwd" has an absolute path'],
    [
      'a path climbing out with ..',
      [{ path: '../outside/new', content: 'x' }],
      'entry "../outside/new" has a path that escapes the root with ".."',
    ],
    [
      'a path climbing out further in',
      [{ path: 'a/../../outside/new', content: 'x' }],
      'entry "a/../../outside/new" has a path that escapes the root with ".."',
    ],
    [
      'a file through a symlink to /',
      [
        { path: 'etc', symlink: '/' },
        { path: 'etc/passwd', content: 'x' },
      ],
      'entry "etc/passwd" would be written through the symlink "etc"',
    ],
    [
      'a file through a symlink climbing out',
      [
        { path: 'x', symlink: '../../..' },
        { path: 'x/passwd', content: 'x' },
      ],
      'entry "x/passwd" would be written through the symlink "x"',
    ],
    [
      'a file through a symlink to a sibling dir',
      [
        { path: 'x', symlink: '../outside' },
        { path: 'x/new', content: 'x' },
      ],
      'entry "x/new" would be written through the symlink "x"',
    ],
    [
      'a directory through a symlink',
      [
        { path: 'x', symlink: '../outside' },
        { path: 'x/d/', dir: true },
      ],
      'entry "x/d/" would be written through the symlink "x"',
    ],
    [
      'a symlink through a symlink',
      [
        { path: 'x', symlink: '../outside' },
        { path: 'x/l', symlink: '/' },
      ],
      'entry "x/l" would be written through the symlink "x"',
    ],
    [
      'a deep path through a symlink',
      [
        { path: 'a/b/', dir: true },
        { path: 'a/b/c', symlink: '../../../outside' },
        { path: 'a/b/c/d/e', content: 'x' },
      ],
      'entry "a/b/c/d/e" would be written through the symlink "a/b/c"',
    ],
    [
      'a directory replaced by a symlink, then written through',
      [
        { path: 'd/', dir: true },
        { path: 'd/a', content: 'x' },
        { path: 'd', symlink: '../outside' },
        { path: 'd/b', content: 'x' },
      ],
      'entry "d/b" would be written through the symlink "d"',
    ],
    [
      'a directory whited out and replaced by a symlink',
      [
        { path: 'd/e/', dir: true },
        { path: 'd/e/a', content: 'x' },
        { path: 'd/.wh.e', content: '' },
        { path: 'd/e', symlink: '../../outside' },
        { path: 'd/e/b', content: 'x' },
      ],
      'entry "d/e/b" would be written through the symlink "d/e"',
    ],
    [
      'a hardlink to a file outside',
      [{ path: 'h', link: '../outside/secret' }],
      'entry "../outside/secret" has a hardlink target that escapes the root with ".."',
    ],
    [
      'a hardlink to an absolute path',
      [{ path: 'h', link: '/etc/passwd' }],
      'entry "/etc/passwd" has an absolute hardlink target',
    ],
    [
      'a hardlink through a symlink',
      [
        { path: 'x', symlink: '../outside' },
        { path: 'h', link: 'x/secret' },
      ],
      'entry "h" would be written through the symlink "x"',
    ],
    [
      'a hardlink named through a symlink',
      [
        { path: 'f', content: 'x' },
        { path: 'x', symlink: '../outside' },
        { path: 'x/h', link: 'f' },
      ],
      'entry "x/h" would be written through the symlink "x"',
    ],
    [
      'a fifo through a symlink',
      [
        { path: 'x', symlink: '../outside' },
        { path: 'x/p', fifo: true },
      ],
      'entry "x/p" would be written through the symlink "x"',
    ],
    ['a root replaced by a symlink', [{ path: '.', symlink: '/' }], 'entry "." replaces the root with a SymbolicLink'],
    ['a root replaced by a file', [{ path: '.', content: 'x' }], 'entry "." replaces the root with a File'],
  ])('%s', async (_what, files, message) => {
    const err = await refused(apply(files));
    expect(err.code).toBe('UnsafeLayer');
    expect(err.message).toBe(`layer L: ${message}`);
    outsideUntouched();
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  });

  it('refuses a file written through a symlink a lower layer made', async () => {
    await apply([{ path: 'etc', symlink: join(outside) }]);
    const err = await refused(apply([{ path: 'etc/passwd', content: 'x' }]));
    expect(err.message).toBe('layer L: entry "etc/passwd" would be written through the symlink "etc"');
    outsideUntouched();
  });

  it('refuses a hardlink to a directory', async () => {
    const err = await refused(
      apply([
        { path: 'd/', dir: true },
        { path: 'h', link: 'd' },
      ]),
    );
    expect(err.code).toBe('UnsafeLayer');
    expect(err.message).toBe('layer L: entry "h" is a hardlink to the directory "d"');
  });

  it('links to a symlink, not to what it points at', async () => {
    await apply([
      { path: 's', symlink: '../outside/secret' },
      { path: 'h', link: 's' },
    ]);
    expect(lstatSync(join(root, 'h')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(root, 'h')).ino).toBe(lstatSync(join(root, 's')).ino);
  });
});

describe('damaged layers', () => {
  it('refuses a truncated gzip layer', async () => {
    const gz = gzipSync(tarBytes([{ path: 'big', content: Buffer.alloc(200_000, 7) }]));
    const err = await refused(applyLayerFile(root, layerFile(gz.subarray(0, gz.length - 100)), { name: 'L', ...OPTS }));
    expect(err.code).toBe('InvalidImage');
    expect(err.message).toMatch(/^layer L: not valid gzip data, probably truncated \(unexpected end of file\)$/);
  });

  it('refuses a truncated tar layer', async () => {
    const tar = tarBytes([{ path: 'big', content: Buffer.alloc(200_000, 7) }]);
    const err = await refused(applyLayerFile(root, layerFile(tar.subarray(0, 100_000)), { name: 'L', ...OPTS }));
    expect(err.code).toBe('InvalidImage');
    expect(err.message).toMatch(/^layer L: (not a valid tar archive \(Truncated input|entry "big" is truncated)/);
  });

  it('refuses a header with a bad checksum', async () => {
    const tar = tarBytes([{ path: 'a', content: 'x' }]);
    tar[0] = 'b'.charCodeAt(0);
    const err = await refused(applyLayerFile(root, layerFile(tar), { name: 'L', ...OPTS }));
    expect(err.code).toBe('InvalidImage');
    expect(err.message).toBe('layer L: not a valid tar archive (checksum failure)');
  });

  it('refuses garbage', async () => {
    const err = await refused(
      applyLayerFile(root, layerFile(Buffer.from('this is not a tar archive at all'.repeat(40))), {
        name: 'L',
        ...OPTS,
      }),
    );
    expect(err.code).toBe('InvalidImage');
  });

  it('refuses a blob whose digest is not the one named', async () => {
    const err = await refused(apply([{ path: 'a', content: 'x' }], { digest: 'sha256:' + '0'.repeat(64) }));
    expect(err.code).toBe('InvalidImage');
    expect(err.message).toMatch(/^blob L has digest sha256:[a-f0-9]{64}, not the sha256:0{64} its manifest names$/);
  });

  it('refuses zstd data that is not a valid frame', async () => {
    const err = await refused(
      applyLayerFile(root, layerFile(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])), { name: 'L' }),
    );
    expect(err.code).toBe('InvalidImage');
    expect(err.message).toMatch(/^layer L: not valid zstd data, probably truncated \(.+\)$/);
  });

  it('applies a zstd layer', async () => {
    const tar = tarBytes([{ path: 'z', content: 'zstd\n' }]);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const r = await applyLayerFile(root, layerFile(zst), { name: 'L', ...OPTS });
    expect(r.diffId).toBe(sha256(tar));
    expect(readFileSync(join(root, 'z'), 'utf8')).toBe('zstd\n');
  });
});

describe('pure helpers', () => {
  it('cleans entry paths', () => {
    expect(cleanEntryPath('./a/./b/', 'L')).toBe('a/b');
    expect(cleanEntryPath('a/../b', 'L')).toBe('b');
    expect(cleanEntryPath('./', 'L')).toBe('');
    expect(() => cleanEntryPath('a/../..', 'L')).toThrow(/escapes the root/);
    expect(() => cleanEntryPath('/a', 'L')).toThrow(/absolute path/);
  });

  it('detects compression by magic bytes', () => {
    expect(detectCompression(gzipSync(Buffer.from('x')))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(detectCompression(tarBytes([{ path: 'a', content: 'x' }]))).toBe('none');
  });
});
