import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  writeDockerArchive,
  writeOciArchive,
  sha256,
  type FileSpec,
  type ImageSpec,
} from '../helpers/image-archive.js';
import { imageHome } from '../helpers/image-store.js';

/**
 * Hostile and damaged images: each is refused with one line naming the image, the layer and the
 * entry, and nothing of it stays in the store; nothing outside the rootfs is touched.
 */

let h: ReturnType<typeof imageHome>;
let work: string, outside: string;
beforeEach(() => {
  h = imageHome();
  work = mkdtempSync(join(tmpdir(), 'podbox-archives-'));
  chmodSync(work, 0o755);
  // A directory outside the store that a hostile layer aims at.
  outside = mkdtempSync(join(tmpdir(), 'podbox-outside-'));
  chmodSync(outside, 0o777);
  writeFileSync(join(outside, 'secret'), 'secret');
  chmodSync(join(outside, 'secret'), 0o666);
});
afterEach(async () => {
  try {
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  } finally {
    await h.cleanup();
    rmSync(work, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

/** A good first layer (so something is written before the refusal), then the hostile one. */
const evil = (files: FileSpec[]): ImageSpec => ({
  tags: ['evil:1'],
  layers: [
    {
      files: [
        { path: 'bin/', dir: true },
        { path: 'bin/busybox', content: 'BB', mode: 0o755 },
        { path: 'home/u/f', content: 'x', uid: 1000, gid: 1000, mode: 0o600 },
      ],
    },
    { gzip: true, files: [{ path: 'ok', content: 'fine' }, ...files] },
  ],
});

async function expectRefused(archive: string, stderr: RegExp, code = 1): Promise<void> {
  const r = await h.run(['image', 'load', archive]);
  expect(r.exitCode).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(stderr);
  expect(h.leftovers()).toEqual({ images: [], tmp: [] });
  expect(await h.json()).toEqual([]);
}

const layer2 = (img: { layers: { digest: string }[] }) => `blobs/sha256/${img.layers[1]!.digest.slice(7)}`;
const REFUSED = ': podbox refuses this image \\(nothing of it was kept\\); rebuild it from a trusted source$';

describe('podbox image load refuses hostile layers', () => {
  const cases: [string, () => FileSpec[], (o: string) => string][] = [
    [
      'an absolute path',
      () => [{ path: `${outside}/pwned`, content: 'x' }],
      (o) => `entry "${o}/pwned" has an absolute path`,
    ],
    [
      'a path escaping with ..',
      () => [{ path: '../../../../../../../../..' + outside + '/pwned', content: 'x' }],
      (o) => `entry "../../../../../../../../..${o}/pwned" has a path that escapes the root with ".."`,
    ],
    [
      'a file through a symlink to /',
      () => [
        { path: 'etc', symlink: '/' },
        { path: `etc${outside}/pwned`, content: 'x' },
      ],
      (o) => `entry "etc${o}/pwned" would be written through the symlink "etc"`,
    ],
    [
      'a file through a symlink climbing out',
      () => [
        { path: 'x', symlink: '../../../../../../../../..' + outside },
        { path: 'x/pwned', content: 'x' },
      ],
      () => 'entry "x/pwned" would be written through the symlink "x"',
    ],
    [
      'a file through an absolute symlink',
      () => [
        { path: 'x', symlink: outside },
        { path: 'x/secret', content: 'overwritten' },
      ],
      () => 'entry "x/secret" would be written through the symlink "x"',
    ],
    [
      'a hardlink to a host file',
      () => [{ path: 'h', link: '/etc/passwd' }],
      () => 'entry "/etc/passwd" has an absolute hardlink target',
    ],
    [
      'a hardlink escaping with ..',
      () => [{ path: 'h', link: '../../../../../../../..' + outside + '/secret' }],
      (o) => `entry "../../../../../../../..${o}/secret" has a hardlink target that escapes the root with ".."`,
    ],
    [
      'a hardlink through a symlink',
      () => [
        { path: 'x', symlink: outside },
        { path: 'h', link: 'x/secret' },
      ],
      () => 'entry "h" would be written through the symlink "x"',
    ],
    [
      'a whiteout through a symlink',
      () => [
        { path: 'x', symlink: outside },
        { path: 'x/.wh.secret', content: '' },
      ],
      () => 'entry "x/.wh.secret" would be written through the symlink "x"',
    ],
    [
      'an opaque whiteout through a symlink',
      () => [
        { path: 'x', symlink: outside },
        { path: 'x/.wh..wh..opq', content: '' },
      ],
      () => 'entry "x/.wh..wh..opq" would be written through the symlink "x"',
    ],
  ];
  for (const [what, files, message] of cases) {
    it(what, async () => {
      const [img] = writeDockerArchive(join(work, 'evil.tar'), evil(files()), { format: 'blobs' });
      const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      await expectRefused(
        join(work, 'evil.tar'),
        new RegExp(`^podbox: image evil:1: layer ${layer2(img!)}: ${esc(message(outside))}${REFUSED}`),
      );
    });
  }

  it("a symlink a lower layer made, under a later layer's file: the later layer's directory replaces it", async () => {
    // Each layer is unpacked on its own (layer-links.ts), so no write can go through a lower
    // layer's symlink; the image shows the upper layer's directory over the lower symlink, as an
    // overlay of the two layers does (Docker's and podman's overlay drivers).
    const spec: ImageSpec = {
      tags: ['evil:1'],
      layers: [
        { files: [{ path: 'etc', symlink: outside }] },
        { files: [{ path: 'etc/secret', content: 'overwritten' }] },
      ],
    };
    writeOciArchive(join(work, 'evil.tar'), spec);
    const r = await h.run(['image', 'load', join(work, 'evil.tar')]);
    expect(r).toEqual({ exitCode: 0, stdout: 'Loaded image: docker.io/library/evil:1', stderr: '' });
    const img = await h.inspect('evil:1');
    expect(lstatSync(join(img.rootfs, 'etc')).isDirectory()).toBe(true);
    expect(readFileSync(join(img.rootfs, 'etc/secret'), 'utf8')).toBe('overwritten');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect((await h.run(['image', 'rm', 'evil:1'])).exitCode).toBe(0);
  });

  it('keeps symlinks that point anywhere, as images have them', async () => {
    const [img] = writeDockerArchive(join(work, 'ok.tar'), {
      tags: ['ok:1'],
      layers: [
        {
          files: [
            { path: 'etc/mtab', symlink: '/proc/mounts' },
            { path: 'x', symlink: outside },
            { path: 'up', symlink: '../../..' },
          ],
        },
      ],
    });
    expect((await h.run(['image', 'load', join(work, 'ok.tar')])).stdout).toBe('Loaded image: docker.io/library/ok:1');
    expect((await h.json()).map((i) => i.id)).toEqual([img!.id]);
  });
});

describe('podbox image load refuses damaged archives', () => {
  it('a layer blob whose digest does not match', async () => {
    const spec: ImageSpec = {
      tags: ['bad:1'],
      layers: [
        { files: [{ path: 'a', content: 'A' }] },
        {
          files: [{ path: 'b', content: 'B' }],
          damage: (b) => Buffer.from(b.toString('latin1').replace('B\0', 'C\0'), 'latin1'),
        },
      ],
    };
    const [img] = writeOciArchive(join(work, 'bad.tar'), spec);
    const damagedDigest = sha256(Buffer.from(img!.layers[1]!.bytes));
    await expectRefused(
      join(work, 'bad.tar'),
      new RegExp(
        `^podbox: image bad:1: blob ${layer2(img!)} has digest ${damagedDigest}, not the ${img!.layers[1]!.digest} its manifest names: the image archive is damaged or was tampered with; save or download it again$`,
      ),
    );
  });

  it('a layer whose content is not the diff id of the config', async () => {
    const spec: ImageSpec = {
      tags: ['bad:1'],
      layers: [{ files: [{ path: 'a', content: 'A' }] }],
      diffIds: [sha256('something else')],
    };
    const [img] = writeDockerArchive(join(work, 'bad.tar'), spec);
    const layerPath = JSON.parse(
      readFileSync(join(work, 'bad.tar'))
        .toString('latin1')
        .match(/\[\{"Config".*?\}\]/)![0],
    )[0].Layers[0];
    await expectRefused(
      join(work, 'bad.tar'),
      new RegExp(
        `^podbox: image bad:1: layer ${layerPath} has diff id ${img!.layers[0]!.diffId}, but the image config says ${sha256('something else')}: `,
      ),
    );
  });

  it('a truncated gzip layer', async () => {
    const spec: ImageSpec = {
      tags: ['bad:1'],
      layers: [
        {
          gzip: true,
          files: [{ path: 'big', content: Buffer.alloc(100_000, 1) }],
          damage: (b) => b.subarray(0, b.length - 20),
        },
      ],
    };
    writeDockerArchive(join(work, 'bad.tar'), spec);
    await expectRefused(
      join(work, 'bad.tar'),
      /^podbox: image bad:1: layer [a-f0-9]{64}\/layer\.tar: not valid gzip data, probably truncated \(unexpected end of file\): /,
    );
  });

  it('a damaged zstd layer', async () => {
    const spec: ImageSpec = {
      tags: ['bad:1'],
      layers: [{ raw: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), files: [] }],
    };
    writeDockerArchive(join(work, 'bad.tar'), spec);
    await expectRefused(
      join(work, 'bad.tar'),
      /^podbox: image bad:1: layer [a-f0-9]{64}\/layer\.tar: not valid zstd data, probably truncated \(.+\): /,
    );
  });

  it('a truncated archive', async () => {
    writeDockerArchive(join(work, 'a.tar'), {
      tags: ['x:1'],
      layers: [{ files: [{ path: 'big', content: Buffer.alloc(50_000, 1) }] }],
    });
    const full = readFileSync(join(work, 'a.tar'));
    writeFileSync(join(work, 't.tar'), full.subarray(0, 30_000));
    await expectRefused(
      join(work, 't.tar'),
      new RegExp(`^podbox: ${join(work, 't.tar')}: is (not a valid tar archive \\(Truncated input|truncated \\(in )`),
    );
  });

  it('a file that is no archive, and one that does not exist', async () => {
    writeFileSync(join(work, 'n.tar'), 'hello');
    await expectRefused(
      join(work, 'n.tar'),
      new RegExp(`^podbox: ${join(work, 'n.tar')}: is not a valid tar archive \\(Unrecognized archive format\\): `),
    );
    await expectRefused(
      join(work, 'absent.tar'),
      new RegExp(`^podbox: cannot read ${join(work, 'absent.tar')}: no such file or directory: `),
    );
    expect(existsSync(join(work, 'absent.tar'))).toBe(false);
  });

  it('an archive whose second image is damaged keeps neither', async () => {
    const good: ImageSpec = { tags: ['good:1'], layers: [{ files: [{ path: 'a', content: 'A' }] }] };
    const bad: ImageSpec = {
      tags: ['bad:1'],
      layers: [
        {
          files: [
            { path: 'x', symlink: outside },
            { path: 'x/y', content: 'y' },
          ],
        },
      ],
    };
    writeDockerArchive(join(work, 'two.tar'), [good, bad]);
    await expectRefused(
      join(work, 'two.tar'),
      /^podbox: image bad:1: layer [a-f0-9]{64}\/layer\.tar: entry "x\/y" would be written through the symlink "x": /,
    );
  });
});
