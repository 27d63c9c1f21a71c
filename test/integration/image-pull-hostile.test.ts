import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PODBOX } from '../helpers/cli.js';
import { imageHome, tree } from '../helpers/image-store.js';
import { tarBytes } from '../helpers/image-archive.js';
import {
  getManifest,
  imageConfig,
  pushImage,
  putBlob,
  putManifest,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

/**
 * Pulls of what a hostile or broken registry serves: descriptors podbox must not make a path of,
 * sizes that lie, manifests too large to be one, indexes that name indexes, foreign layers, and a
 * disk that fills up. The real registry (docker-registry on 127.0.0.1) serves whatever it accepts;
 * a small server here serves the documents it refuses to store. Each pull fails in one line naming
 * the image, and the store is left exactly as it was.
 */
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const READ_HINT = 'the registry served a manifest podbox cannot read';
const OTHER_CONTENT =
  'the registry or a proxy served other content than asked for; pull again, and tell the registry owner if it persists';
const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  nondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};
const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  foreign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
};
const hostArch = process.arch === 'arm64' ? 'arm64' : 'amd64';

/** A server on 127.0.0.1 answering each path from a table, and recording the paths asked. */
async function tableServer(): Promise<{
  host: string;
  routes: Map<string, (res: ServerResponse) => void>;
  seen: string[];
  stop(): Promise<void>;
}> {
  const routes = new Map<string, (res: ServerResponse) => void>();
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(req.url ?? '');
    const route = routes.get(req.url ?? '');
    if (route) route(res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const stop = () => new Promise<void>((r) => server.close(() => r()));
  return { host, routes, seen, stop };
}

const document = (doc: object | Buffer, type: string) => (res: ServerResponse) => {
  const body = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
  res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
};

describe('pulls from a hostile registry: refused in one line, the store untouched', () => {
  let reg: TestRegistry;
  let evil: Awaited<ReturnType<typeof tableServer>>;
  let h: ReturnType<typeof imageHome>;
  const pull = (ref: string) => h.run(['image', 'pull', '-q', ref]);
  /** Everything under PODBOX_HOME: a refused pull changes nothing there (no file outside the store either). */
  const homeTree = () => tree(h.home);

  beforeAll(async () => {
    reg = await startRegistry();
    evil = await tableServer();
    h = imageHome();
    // One good pull first, so that the store's directories exist and a refusal must leave them as they are.
    await pushImage(reg.host, 'good/app:1');
    expect((await pull(`${reg.host}/good/app:1`)).exitCode).toBe(0);
  });
  afterAll(async () => {
    await h?.cleanup();
    await evil?.stop();
    await reg?.stop();
  });

  it('refuses digests that are no sha256:<64 hex> and sizes that are no int64, before writing anything', async () => {
    const good = { mediaType: OCI.layer, digest: sha('x'), size: 1 };
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'dots',
        { layers: [{ ...good, digest: 'sha256:../../x' }] },
        'layers[0] has an invalid digest "sha256:../../x" (invalid checksum digest length)',
      ],
      [
        'upper',
        { config: { ...good, digest: `sha256:${'AB'.repeat(32)}` } },
        `config has an invalid digest "sha256:${'AB'.repeat(32)}" (invalid checksum digest format)`,
      ],
      [
        'sha512',
        { layers: [{ ...good, digest: `sha512:${'ab'.repeat(64)}` }] },
        `layers[0] has the digest "sha512:${'ab'.repeat(64)}", and podbox only pulls sha256 content`,
      ],
      ['negative', { layers: [{ ...good, size: -5 }] }, 'layers[0] has an invalid size -5'],
      ['huge', { layers: [{ ...good, size: 1e20 }] }, 'layers[0] has an invalid size 100000000000000000000'],
    ];
    const before = homeTree();
    for (const [name, override, why] of cases) {
      const m = {
        schemaVersion: 2,
        mediaType: OCI.manifest,
        config: { ...good, mediaType: OCI.config },
        layers: [good],
        ...override,
      };
      evil.routes.set(`/v2/h/${name}/manifests/1`, document(m, OCI.manifest));
      const r = await pull(`${evil.host}/h/${name}:1`);
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `podbox: cannot pull ${evil.host}/h/${name}:1 from ${evil.host}: ${why}: ${READ_HINT}`,
      ]);
    }
    const index = { schemaVersion: 2, mediaType: OCI.index, manifests: [{ ...good, digest: 'sha256:../../../etc' }] };
    evil.routes.set('/v2/h/index/manifests/1', document(index, OCI.index));
    const r = await pull(`${evil.host}/h/index:1`);
    expect(r.stderr).toBe(
      `podbox: cannot pull ${evil.host}/h/index:1 from ${evil.host}: manifests[0] has an invalid digest ` +
        `"sha256:../../../etc" (invalid checksum digest length): ${READ_HINT}`,
    );
    // Nothing asked beyond the manifests: no blob request was made of a refused descriptor.
    expect(evil.seen.filter((p) => p.includes('/blobs/'))).toEqual([]);
    expect(homeTree()).toEqual(before);
  });

  it('refuses a manifest over 4 MiB, announced or not, without reading the rest', async () => {
    const big = Buffer.alloc((4 << 20) + 1, 0x20);
    evil.routes.set('/v2/h/big/manifests/1', document(big, OCI.manifest));
    evil.routes.set('/v2/h/chunked/manifests/1', (res) => {
      res.writeHead(200, { 'content-type': OCI.manifest });
      res.end(big);
    });
    const before = homeTree();
    for (const name of ['big', 'chunked']) {
      const r = await pull(`${evil.host}/h/${name}:1`);
      expect([r.exitCode, r.stderr]).toEqual([
        1,
        `podbox: cannot pull ${evil.host}/h/${name}:1 from ${evil.host}: the manifest of tag "1" is over 4 ` +
          `MiB: the registry served something that is not an image manifest; check the image name`,
      ]);
    }
    expect(homeTree()).toEqual(before);
  });

  it('an index naming itself gets the digest it names checked: refused, no loop', async () => {
    // Content cannot name its own digest, so a loop is a registry answering a digest with other bytes.
    const loopDigest = sha('the index claims to be this');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI.index,
        manifests: [
          { mediaType: OCI.index, digest: loopDigest, size: 300, platform: { os: 'linux', architecture: hostArch } },
        ],
      }),
    );
    evil.routes.set('/v2/h/loop/manifests/1', document(index, OCI.index));
    evil.routes.set(`/v2/h/loop/manifests/${loopDigest}`, document(index, OCI.index));
    const before = homeTree();
    const r = await pull(`${evil.host}/h/loop:1`);
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      `podbox: cannot pull ${evil.host}/h/loop:1 from ${evil.host}: manifest ${loopDigest} has digest ` +
        `${sha(index)} (${index.length} bytes): ${OTHER_CONTENT}`,
    ]);
    expect(evil.seen.filter((p) => p.startsWith('/v2/h/loop/'))).toEqual([
      '/v2/h/loop/manifests/1',
      `/v2/h/loop/manifests/${loopDigest}`,
    ]);
    expect(homeTree()).toEqual(before);
  });

  it('refuses an index whose platform entry is another index (a real registry stores both)', async () => {
    const inner = await pushImage(reg.host, 'nest/app:inner', { platforms: [`linux/${hostArch}`] });
    const innerSize = (
      await fetch(`http://${reg.host}/v2/nest/app/manifests/inner`, { headers: { accept: OCI.index } })
    ).headers.get('content-length');
    await putManifest(reg.host, 'nest/app', 'outer', {
      schemaVersion: 2,
      mediaType: OCI.index,
      manifests: [
        {
          mediaType: OCI.index,
          digest: inner.digest,
          size: Number(innerSize),
          platform: { os: 'linux', architecture: hostArch },
        },
      ],
    });
    const before = homeTree();
    const r = await pull(`${reg.host}/nest/app:outer`);
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      `podbox: cannot pull ${reg.host}/nest/app:outer from ${reg.host}: its index for linux/${hostArch} ` +
        `names another index: the registry served an image podbox cannot read`,
    ]);
    expect(homeTree()).toEqual(before);
  });

  it('refuses layers and configs whose size field lies, longer or shorter, keeping no byte of them', async () => {
    const p = await pushImage(reg.host, 'lie/app:1', { layers: [[{ path: 'data', content: randomBytes(50_000) }]] });
    const m = await getManifest(reg.host, 'lie/app', '1');
    const real = Number(m.layers[0]!.size);
    const before = homeTree();
    for (const delta of [1, -1]) {
      const tag = `layer${delta > 0 ? 'longer' : 'shorter'}`;
      await putManifest(reg.host, 'lie/app', tag, {
        ...m,
        mediaType: OCI.manifest,
        layers: [{ ...m.layers[0], size: real + delta }],
      });
      const r = await pull(`${reg.host}/lie/app:${tag}`);
      expect([r.exitCode, r.stderr]).toEqual([
        1,
        `podbox: cannot pull ${reg.host}/lie/app:${tag} from ${reg.host}: blob ${p.layers[0]} has ${real} ` +
          `bytes, not the ${real + delta} its manifest says: ${OTHER_CONTENT}`,
      ]);
    }
    await putManifest(reg.host, 'lie/app', 'config', {
      ...m,
      mediaType: OCI.manifest,
      config: { ...m.config, size: m.config.size - 1 },
    });
    const r = await pull(`${reg.host}/lie/app:config`);
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      `podbox: cannot pull ${reg.host}/lie/app:config from ${reg.host}: config ${m.config.digest} has more ` +
        `than the ${m.config.size - 1} bytes its manifest says: ${OTHER_CONTENT}`,
    ]);
    expect(homeTree()).toEqual(before);
  });
});

describe('foreign and non-distributable layers', () => {
  let reg: TestRegistry;
  let elsewhere: Awaited<ReturnType<typeof tableServer>>;
  let h: ReturnType<typeof imageHome>;

  beforeAll(async () => {
    reg = await startRegistry();
    elsewhere = await tableServer();
    h = imageHome();
    // The store's directories exist before the refusals below, which must leave them as they are.
    await pushImage(reg.host, 'good/app:1');
    expect((await h.run(['image', 'pull', '-q', `${reg.host}/good/app:1`])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await h?.cleanup();
    await elsewhere?.stop();
    await reg?.stop();
  });

  /**
   * A one-layer image whose layer only `elsewhere` has, under the manifest and layer types given;
   * its manifest and config in the real registry, or (for URLs the registry refuses to store) in
   * `elsewhere` too, then acting as the registry.
   */
  async function foreignImage(
    repo: string,
    kind: 'docker' | 'oci',
    urls: (layerPath: string) => string[],
    registry: 'real' | 'elsewhere' = 'real',
  ) {
    const tar = tarBytes([{ path: 'hello', content: `${repo}: from a ${kind} foreign layer\n` }]);
    const blob = gzipSync(tar);
    const path = `/layers/${repo}.tar.gz`;
    elsewhere.routes.set(path, document(blob, 'application/octet-stream'));
    const config = imageConfig([tar]);
    const configDigest = sha(config);
    const layer = {
      mediaType: kind === 'docker' ? DOCKER.foreign : OCI.nondistributable,
      digest: sha(blob),
      size: blob.length,
      urls: urls(path),
    };
    const manifest = {
      schemaVersion: 2,
      mediaType: kind === 'docker' ? DOCKER.manifest : OCI.manifest,
      config: { mediaType: kind === 'docker' ? DOCKER.config : OCI.config, digest: configDigest, size: config.length },
      layers: [layer],
    };
    if (registry === 'real') {
      await putBlob(reg.host, repo, config);
      await putManifest(reg.host, repo, '1', manifest);
    } else {
      elsewhere.routes.set(`/v2/${repo}/manifests/1`, document(manifest, manifest.mediaType));
      elsewhere.routes.set(`/v2/${repo}/blobs/${configDigest}`, document(config, 'application/octet-stream'));
    }
    return { id: configDigest, layer: layer.digest, path, blob };
  }

  for (const kind of ['docker', 'oci'] as const) {
    it(`${kind}: the layer comes from the URL its manifest gives, verified; the registry is not asked`, async () => {
      const f = await foreignImage(`foreign/${kind}`, kind, (p) => [`http://${elsewhere.host}${p}`]);
      const r = await h.run(['image', 'pull', '-q', `${reg.host}/foreign/${kind}:1`]);
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, f.id, '']);
      expect(readFileSync(join((await h.inspect(r.stdout)).rootfs, 'hello'), 'utf8')).toBe(
        `foreign/${kind}: from a ${kind} foreign layer\n`,
      );
      expect(elsewhere.seen.filter((s) => s === f.path)).toEqual([f.path]);
      expect(reg.requests().filter((q) => q.includes(f.layer))).toEqual([]);
    });
  }

  it('other bytes at the URL are refused by digest; a URL that is not http(s) is never followed', async () => {
    const f = await foreignImage('foreign/tampered', 'oci', (p) => [`http://${elsewhere.host}${p}`]);
    const other = Buffer.from(f.blob);
    other[other.length - 10] ^= 0xff;
    elsewhere.routes.set(f.path, document(other, 'application/octet-stream'));
    const before = tree(h.home);
    const r = await h.run(['image', 'pull', '-q', `${reg.host}/foreign/tampered:1`]);
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      `podbox: cannot pull ${reg.host}/foreign/tampered:1 from ${reg.host}: blob ${f.layer} has digest ` +
        `${sha(other)}: ${OTHER_CONTENT}`,
    ]);
    expect(tree(h.home)).toEqual(before);

    // docker-registry refuses to store such URLs: `elsewhere` serves this image as the registry.
    const g = await foreignImage('foreign/file', 'oci', () => ['file:///etc/passwd', 'ftp://127.0.0.1/x'], 'elsewhere');
    const seen = elsewhere.seen.length;
    const no = await h.run(['image', 'pull', '-q', `${elsewhere.host}/foreign/file:1`]);
    expect([no.exitCode, no.stderr]).toEqual([
      1,
      `podbox: cannot pull ${elsewhere.host}/foreign/file:1 from ${elsewhere.host}: blob ${g.layer} not ` +
        `found: the image is incomplete in the registry; push it again`,
    ]);
    // Only the registry's paths were asked for.
    expect(elsewhere.seen.slice(seen).filter((p) => !p.startsWith('/v2/foreign/file/'))).toEqual([]);
    expect(tree(h.home)).toEqual(before);
  });

  it('urls on an ordinary layer are not followed: the registry serves it', async () => {
    const p = await pushImage(reg.host, 'plain/app:1');
    const m = await getManifest(reg.host, 'plain/app', '1');
    await putManifest(reg.host, 'plain/app', 'urls', {
      ...m,
      mediaType: OCI.manifest,
      layers: [{ ...m.layers[0], urls: [`http://${elsewhere.host}/never`] }],
    });
    const r = await h.run(['image', 'pull', '-q', `${reg.host}/plain/app:urls`]);
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, p.ids[0], '']);
    expect(elsewhere.seen).not.toContain('/never');
  });
});

describe('a disk that fills up during a pull', () => {
  let reg: TestRegistry;
  const work = mkdtempSync(join(tmpdir(), 'podbox-full-'));

  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * `podbox image pull` with PODBOX_HOME on a tmpfs of `size`, mounted in a user and mount
   * namespace of the test's own (unshare -rm: nothing to unmount after, for root or not), and what
   * the store holds after it, listed from inside.
   */
  async function pullOnSmallDisk(ref: string, size: string) {
    const home = mkdtempSync(join(work, 'home-'));
    const script =
      'mount -t tmpfs -o size="$SIZE",mode=0700 podbox-test "$PODBOX_HOME" || exit 99; ' +
      '"$PODBOX" image pull -q "$REF" 2>&1; echo "exit=$?"; cd "$PODBOX_HOME" && find . -mindepth 1 | sort';
    const r = await execa('unshare', ['-rm', 'sh', '-c', script], {
      env: { PODBOX_HOME: home, PODBOX_QUIET_IDMAP: '1', NO_COLOR: '1', PODBOX: PODBOX, REF: ref, SIZE: size },
      reject: false,
      timeout: 60_000,
    });
    const lines = String(r.stdout).split('\n');
    const at = lines.findIndex((l) => l.startsWith('exit='));
    return { home, output: lines.slice(0, at), exit: lines[at], files: lines.slice(at + 1) };
  }

  it('a layer that does not fit: one line naming the image and saying to free space; nothing partial', async () => {
    await pushImage(reg.host, 'full/blob:1', {
      compression: 'none',
      layers: [[{ path: 'big', content: randomBytes(3 << 20) }]],
    });
    const r = await pullOnSmallDisk(`${reg.host}/full/blob:1`, '1m');
    expect(r.output).toEqual([
      `podbox: cannot pull ${reg.host}/full/blob:1: no space left on the device (writing to ` +
        `${r.home}/images/blobs): free some space (\`podbox image prune\` removes images and layers nothing ` +
        `uses) and pull again`,
    ]);
    expect(r.exit).toBe('exit=1');
    expect(r.files).toEqual(['./images', './images/blobs', './images/blobs/sha256', './images/leases', './images/tmp']);
  });

  it('a layer that downloads but does not unpack: the same line; no layer, no work dir', async () => {
    const p = await pushImage(reg.host, 'full/unpack:1', {
      layers: [[{ path: 'zeros', content: Buffer.alloc(3 << 20) }]],
    });
    const r = await pullOnSmallDisk(`${reg.host}/full/unpack:1`, '1m');
    expect(r.output).toEqual([
      `podbox: cannot pull ${reg.host}/full/unpack:1: no space left on the device (writing to ` +
        `${r.home}/images): free some space (\`podbox image prune\` removes images and layers nothing uses) ` +
        `and pull again`,
    ]);
    expect(r.exit).toBe('exit=1');
    // The layer's blob downloaded whole and verified: kept by digest (a later pull uses it), no image
    // lists it, so `podbox image prune` frees it.
    expect(r.files).toEqual([
      './images',
      './images/blobs',
      './images/blobs/sha256',
      `./images/blobs/sha256/${p.layers[0]!.slice(7)}`,
      './images/leases',
      './images/tmp',
    ]);
  });
});
