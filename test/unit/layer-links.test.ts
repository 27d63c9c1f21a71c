import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUnpackJob, type LayerDir, type UnpackResult } from '../../src/image/unpack.js';
import { readLayerMeta } from '../../src/image/layer-links.js';
import { tarBytes, sha256, type FileSpec } from '../helpers/image-archive.js';
import { tree } from '../helpers/image-store.js';

/**
 * Layers unpacked on their own and stacked into a rootfs by hard links (layer-links.ts), in-process:
 * whiteouts, opaque directories and links to lower files applied when stacking, one inode per file
 * for every rootfs, and nothing outside the rootfs reached through a lower layer's symlink.
 */
let work: string, outside: string;
let n = 0;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'podbox-links-'));
  outside = join(work, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir', 'kept'), 'kept');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function layerFile(files: FileSpec[]): { file: string; diffId: string } {
  const tar = tarBytes(files);
  const file = join(work, `layer${n++}.tar`);
  writeFileSync(file, tar);
  return { file, diffId: sha256(tar) };
}

/** Stacks `layers` (new ones unpacked into work/layers/<i>-<n>, or dirs the store has) into a new rootfs. */
async function stack(layers: ({ file: string } | { have: string })[]): Promise<{ rootfs: string; dirs: string[] }> {
  const rootfs = join(work, `rootfs${n++}`);
  mkdirSync(rootfs);
  const layerDirs: LayerDir[] = layers.map((l, i) =>
    'have' in l ? { dir: l.have, have: true } : { dir: join(work, 'layers', `${i}-${n++}`), have: false },
  );
  const r = (await runUnpackJob({
    op: 'unpack',
    rootfs,
    layers: layers.map((l, i) => ('file' in l ? { kind: 'file', file: l.file, name: `layer ${i}` } : l.have) as never),
    layerDirs,
    ignoreChownErrors: process.getuid!() !== 0,
  })) as UnpackResult;
  expect(r.diffIds.length).toBe(layers.length);
  return { rootfs, dirs: layerDirs.map((d) => d.dir) };
}

describe('stacking layers by hard links', () => {
  it('applies whiteouts, opaque directories and links to lower files; records them, never writes them', async () => {
    const lower = layerFile([
      { path: 'etc/gone', content: 'gone' },
      { path: 'etc/kept', content: 'kept' },
      { path: 'opq/old', content: 'old' },
      { path: 'opq/sub/deep', content: 'deep' },
      { path: 'data/f', content: 'f' },
      { path: 'data/g', link: 'data/f' },
      { path: 'was-dir/x', content: 'x' },
    ]);
    const upper = layerFile([
      { path: 'etc/.wh.gone', content: '' },
      { path: 'opq/.wh..wh..opq', content: '' },
      { path: 'opq/new', content: 'new' },
      { path: 'data/h', link: 'data/f' },
      { path: '.wh.was-dir', content: '' },
      { path: 'was-dir', content: 'a file now' },
    ]);
    const { rootfs, dirs } = await stack([lower, upper]);
    expect(tree(rootfs)).toEqual([
      'data/',
      'data/f',
      'data/g',
      'data/h',
      'etc/',
      'etc/kept',
      'opq/',
      'opq/new',
      'was-dir',
    ]);
    expect(readFileSync(join(rootfs, 'was-dir'), 'utf8')).toBe('a file now');
    const ino = statSync(join(dirs[0]!, 'diff/data/f')).ino;
    for (const f of ['data/f', 'data/g', 'data/h']) expect(statSync(join(rootfs, f)).ino).toBe(ino);
    expect(tree(join(dirs[1]!, 'diff'))).toEqual(['data/', 'opq/', 'opq/new', 'was-dir']);
    expect(readLayerMeta(dirs[1]!)).toEqual({
      diffId: upper.diffId,
      size: 13,
      whiteouts: ['etc/gone', 'was-dir'],
      opaque: ['opq'],
      links: [['data/h', 'data/f']],
    });

    // A second image over the same lower layer: the same inodes.
    const other = layerFile([{ path: 'other', content: 'o' }]);
    const second = await stack([{ have: dirs[0]! }, other]);
    expect(statSync(join(second.rootfs, 'data/f')).ino).toBe(ino);
    expect(existsSync(join(second.rootfs, 'etc/gone'))).toBe(true);
  });

  it('never reaches outside the rootfs through a lower layer symlink', async () => {
    const lower = layerFile([
      { path: 'etc', symlink: outside },
      { path: 'd', symlink: join(outside, 'dir') },
    ]);
    const upper = layerFile([
      { path: 'etc/.wh.secret', content: '' },
      { path: 'd/.wh..wh..opq', content: '' },
      { path: 'x/y', content: 'y' },
      { path: 'x/stolen', link: 'etc/secret' },
    ]);
    // Whiteouts and links are marks of the upper layer, applied by the stacker without following
    // the lower symlinks; an opaque marker makes its directory one of the upper layer (replacing the symlink).
    const { rootfs } = await stack([lower, upper]);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(readFileSync(join(outside, 'dir', 'kept'), 'utf8')).toBe('kept');
    expect(tree(rootfs)).toEqual(['d/', `etc -> ${outside}`, 'x/', 'x/y']);
  });
});
