import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readImageSource, type ImageToLoad } from '../../src/image/archive.js';
import { PodboxError } from '../../src/errors.js';
import {
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
  tarBytes,
  sha256,
  type ImageSpec,
} from '../helpers/image-archive.js';

let work: string, scratch: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'podbox-archive-'));
  scratch = join(work, 'scratch');
  mkdirSync(scratch);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const spec = (tags: string[], extra: Partial<ImageSpec> = {}): ImageSpec => ({
  tags,
  layers: [{ files: [{ path: 'a', content: 'A' }] }, { gzip: true, files: [{ path: 'b', content: 'B' }] }],
  config: { Cmd: ['sh'] },
  ...extra,
});

async function refused(p: Promise<unknown>): Promise<PodboxError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PodboxError);
    return e as PodboxError;
  }
  throw new Error('did not fail');
}

/** What a test can compare exactly: names, digests, config digest, layer contents and digests. */
function summary(images: ImageToLoad[]) {
  return images.map((i) => ({
    names: i.names,
    digests: i.digests,
    config: sha256(i.config),
    layers: i.layers.map((l) => ({ digest: l.digest, bytes: sha256(readFileSync(l.file)) })),
  }));
}

describe('reading image archives', () => {
  it('reads a legacy docker-archive with several tags and a repeated image', async () => {
    const [a, b] = writeDockerArchive(join(work, 'd.tar'), [
      spec(['busybox', 'busybox:1.36', 'localhost:5000/x/y:z']),
      spec(['other:1'], { config: { Cmd: ['other'] } }),
    ]);
    const images = await readImageSource(join(work, 'd.tar'), scratch);
    expect(summary(images)).toEqual([
      {
        names: ['docker.io/library/busybox:latest', 'docker.io/library/busybox:1.36', 'localhost:5000/x/y:z'],
        digests: [],
        config: a!.id,
        layers: a!.layers.map((l) => ({ digest: undefined, bytes: l.digest })),
      },
      {
        names: ['docker.io/library/other:1'],
        digests: [],
        config: b!.id,
        layers: b!.layers.map((l) => ({ digest: undefined, bytes: l.digest })),
      },
    ]);
  });

  it('reads a docker 25 archive (blobs/sha256), gzipped as `docker save | gzip`', async () => {
    const [a] = writeDockerArchive(join(work, 'd.tar.gz'), spec(['app:v1']), { format: 'blobs', gzip: true });
    expect(summary(await readImageSource(join(work, 'd.tar.gz'), scratch))).toEqual([
      {
        names: ['docker.io/library/app:v1'],
        digests: [],
        config: a!.id,
        layers: a!.layers.map((l) => ({ digest: l.digest, bytes: l.digest })),
      },
    ]);
  });

  it('follows the symlinks docker save makes for a repeated layer', async () => {
    const layer = tarBytes([{ path: 'x', content: 'x' }]);
    const files = [
      {
        path: 'manifest.json',
        content: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]),
      },
      {
        path: 'c.json',
        content: JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256(layer), sha256(layer)] } }),
      },
      { path: 'l1/layer.tar', content: layer },
      { path: 'l2/layer.tar', symlink: '../l1/layer.tar' },
    ];
    writeFileSync(join(work, 'd.tar'), tarBytes(files));
    const [img] = await readImageSource(join(work, 'd.tar'), scratch);
    expect(img!.layers.map((l) => sha256(readFileSync(l.file)))).toEqual([sha256(layer), sha256(layer)]);
  });

  it('reads an OCI archive named as skopeo and podman name it, picking this platform from a nested index', async () => {
    const [a] = writeOciArchive(join(work, 'o.tar'), spec(['quay.io/a/b:c', 'quay.io/a/b:d']), { nested: true });
    expect(summary(await readImageSource(join(work, 'o.tar'), scratch))).toEqual([
      {
        names: ['quay.io/a/b:c', 'quay.io/a/b:d'],
        digests: [`quay.io/a/b@${a!.manifestDigest}`],
        config: a!.id,
        layers: a!.layers.map((l) => ({ digest: l.digest, bytes: l.digest })),
      },
    ]);
  });

  it('reads an OCI layout directory named as containerd names it', async () => {
    const [a] = writeOciLayout(join(work, 'layout'), spec(['docker.io/library/nginx:1.25']), { naming: 'containerd' });
    const images = await readImageSource(join(work, 'layout'), scratch);
    expect(summary(images)).toEqual([
      {
        names: ['docker.io/library/nginx:1.25'],
        digests: [`docker.io/library/nginx@${a!.manifestDigest}`],
        config: a!.id,
        layers: a!.layers.map((l) => ({ digest: l.digest, bytes: l.digest })),
      },
    ]);
    // a directory is read in place
    expect(images[0]!.layers[0]!.file).toBe(join(work, 'layout', 'blobs', 'sha256', a!.layers[0]!.digest.slice(7)));
  });

  it('reads an image with no name', async () => {
    const [a] = writeOciArchive(join(work, 'o.tar'), spec([]), { naming: 'none' });
    expect(summary(await readImageSource(join(work, 'o.tar'), scratch))[0]).toMatchObject({
      names: [],
      digests: [],
      config: a!.id,
    });
  });

  it('refuses a config or manifest whose digest is wrong', async () => {
    const [a] = writeOciLayout(join(work, 'l'), spec(['x:1']));
    writeFileSync(
      join(work, 'l/blobs/sha256', a!.id.slice(7)),
      readFileSync(join(work, 'l/blobs/sha256', a!.id.slice(7)))
        .toString()
        .replace('"sh"', '"ls"'),
    );
    const e = await refused(readImageSource(join(work, 'l'), scratch));
    expect(e.code).toBe('InvalidImage');
    expect(e.message).toMatch(
      new RegExp(
        `^${join(work, 'l')}: blob blobs/sha256/${a!.id.slice(7)} \\(config of ${a!.manifestDigest}\\) has digest sha256:[a-f0-9]{64}, not ${a!.id}$`,
      ),
    );

    const [b] = writeDockerArchive(join(work, 'd.tar'), spec(['x:1']));
    const configName = `${b!.id.slice(7)}.json`;
    writeDockerArchive(join(work, 'd2.tar'), spec(['x:1']), {
      override: { [configName]: Buffer.from('{"rootfs":{"diff_ids":[]}}') },
    });
    const e2 = await refused(readImageSource(join(work, 'd2.tar'), scratch));
    expect(e2.message).toMatch(
      new RegExp(`^${join(work, 'd2.tar')}: config ${configName} has digest sha256:[a-f0-9]{64}$`),
    );
  });

  it('refuses missing blobs and layers', async () => {
    const [b] = writeOciArchive(join(work, 'o2.tar'), spec(['x:1']), {});
    writeOciArchive(join(work, 'o3.tar'), spec(['x:1']), { omit: [b!.layers[1]!.digest] });
    const e = await refused(readImageSource(join(work, 'o3.tar'), scratch));
    expect(e.message).toBe(
      `${join(work, 'o3.tar')}: is missing blob blobs/sha256/${b!.layers[1]!.digest.slice(7)} (layer 1 of ${b!.manifestDigest})`,
    );
  });

  it('refuses a tag that is not a reference', async () => {
    writeDockerArchive(join(work, 'd.tar'), spec(['Not/Valid:tag']));
    const e = await refused(readImageSource(join(work, 'd.tar'), scratch));
    expect(e.message).toBe(
      `${join(work, 'd.tar')}: manifest.json[0].RepoTags names the image "Not/Valid:tag", which is not a valid reference (repository name (Valid) must be lowercase)`,
    );
  });

  it('refuses a truncated archive, a truncated gzip archive, and something that is no archive', async () => {
    writeDockerArchive(join(work, 'd.tar'), spec(['x:1']));
    const full = readFileSync(join(work, 'd.tar'));
    writeFileSync(join(work, 't.tar'), full.subarray(0, Math.floor(full.length / 2) + 100));
    expect((await refused(readImageSource(join(work, 't.tar'), scratch))).message).toMatch(
      /^.*t\.tar: is (not a valid tar archive \(Truncated input|truncated \(in )/,
    );
    const gz = gzipSync(full);
    writeFileSync(join(work, 't.tar.gz'), gz.subarray(0, gz.length - 50));
    expect((await refused(readImageSource(join(work, 't.tar.gz'), scratch))).message).toBe(
      `${join(work, 't.tar.gz')}: cannot be read: unexpected end of file (truncated or damaged gzip data)`,
    );
    writeFileSync(join(work, 'n.tar'), 'hello');
    expect((await refused(readImageSource(join(work, 'n.tar'), scratch))).message).toMatch(
      /n\.tar: is not a valid tar archive \(Unrecognized archive format\)$/,
    );
    writeFileSync(join(work, 'e.tar'), tarBytes([{ path: 'readme', content: 'x' }]));
    expect((await refused(readImageSource(join(work, 'e.tar'), scratch))).message).toBe(
      `${join(work, 'e.tar')}: is neither a docker-archive (no manifest.json) nor an OCI archive (no index.json)`,
    );
    const nf = await refused(readImageSource(join(work, 'absent.tar'), scratch));
    expect(nf.code).toBe('InvalidArgument');
    expect(nf.message).toBe(`cannot read ${join(work, 'absent.tar')}: no such file or directory`);
  });

  it('reads zstd layers, and refuses a platform it does not have', async () => {
    const [a] = buildZstdLayout(join(work, 'z'));
    const [img] = await readImageSource(join(work, 'z'), scratch);
    expect(img!.layers.map((l) => l.name)).toEqual([`blobs/sha256/${a}`]);
    writeOciLayout(join(work, 'p'), { ...spec(['x:1']) }, { nested: true });
    const idx = JSON.parse(readFileSync(join(work, 'p/index.json'), 'utf8'));
    const nestedHex = idx.manifests[0].digest.slice(7);
    const nested = JSON.parse(readFileSync(join(work, 'p/blobs/sha256', nestedHex), 'utf8'));
    nested.manifests = nested.manifests.slice(0, 1);
    const bytes = Buffer.from(JSON.stringify(nested));
    writeFileSync(join(work, 'p/blobs/sha256', sha256(bytes).slice(7)), bytes);
    idx.manifests[0].digest = sha256(bytes);
    idx.manifests[0].size = bytes.length;
    writeFileSync(join(work, 'p/index.json'), JSON.stringify(idx));
    const p = await refused(readImageSource(join(work, 'p'), scratch));
    expect(p.message).toMatch(/has no image for linux\/(amd64|arm64) \(it has linux\/riscv64\)$/);
  });
});

function buildZstdLayout(dir: string): string[] {
  const layer = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
  const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256('x')] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(layer), size: layer.length }],
    }),
  );
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) writeFileSync(join(dir, 'blobs/sha256', sha256(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length },
      ],
    }),
  );
  return [sha256(layer).slice(7)];
}

describe("an archive's JSON is bounded before it is read (containers/image iolimits)", () => {
  const padded = (json: string, size: number) => Buffer.from(json + ' '.repeat(size - json.length));

  it('refuses a docker-archive manifest.json over 1 MiB', async () => {
    const manifest = padded('[]', (1 << 20) + 1);
    writeDockerArchive(join(work, 'd.tar'), spec(['app:v1']), { override: { 'manifest.json': manifest } });
    const e = await refused(readImageSource(join(work, 'd.tar'), scratch, 'd.tar'));
    expect(e.toLine()).toBe(
      'd.tar: manifest.json (docker-archive) is larger than 1 MiB, more than an image needs: ' +
        'the archive is damaged or was tampered with; save or download it again',
    );
  });

  it('refuses an OCI index.json over 4 MiB', async () => {
    writeOciArchive(join(work, 'o.tar'), spec(['app:v1']), { override: { 'index.json': padded('{}', (4 << 20) + 1) } });
    const e = await refused(readImageSource(join(work, 'o.tar'), scratch, 'o.tar'));
    expect(e.toLine()).toBe(
      'o.tar: index.json (OCI image layout) is larger than 4 MiB, more than an image needs: ' +
        'the archive is damaged or was tampered with; save or download it again',
    );
  });

  it('refuses a config blob over 4 MiB', async () => {
    const [a] = writeOciLayout(join(work, 'l'), spec(['app:v1']));
    const hex = a!.id.slice('sha256:'.length);
    writeFileSync(join(work, 'l', 'blobs', 'sha256', hex), padded('{}', (4 << 20) + 1));
    const e = await refused(readImageSource(join(work, 'l'), scratch, 'l'));
    expect(e.toLine()).toBe(
      `${join(work, 'l')}: blobs/sha256/${hex} (config of ${a!.manifestDigest}) ` +
        'is larger than 4 MiB, more than an image needs: the archive is damaged or was tampered with; save or download it again',
    );
  });
});
