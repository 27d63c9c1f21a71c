import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/auth-challenge.js';
import { choosePlatform, normalizePlatform, parsePlatform, platformVector } from '../../src/image/platform.js';
import { MEDIA, manifestMediaType, parseManifest, foreignUrls } from '../../src/image/manifest.js';
import { PodboxError } from '../../src/errors.js';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('WWW-Authenticate challenges', () => {
  it("reads Docker Hub's bearer challenge", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
  });

  it('reads basic, unquoted values, escapes, several challenges and several headers', () => {
    expect(parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm=https://r/t, error="a\\"b"'])).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://r/t', error: 'a"b' } },
    ]);
    expect(parseChallenges('Basic realm="x", Bearer realm="y",service="s"')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'y', service: 's' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('platforms', () => {
  it('normalises as containerd does', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' })).toEqual({
      os: 'linux',
      architecture: 'arm64',
    });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' })).toEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    expect(normalizePlatform({ os: 'linux', architecture: 'armhf' })).toEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(() => parsePlatform('amd64')).toThrow(PodboxError);
    expect(() => parsePlatform('linux/amd64/v2/x')).toThrow(/invalid platform "linux\/amd64\/v2\/x"/);
  });

  it('prefers the platform itself, then what it also runs', () => {
    const f = (s: string) =>
      platformVector(parsePlatform(s)).map((p) => [p.architecture, p.variant].filter(Boolean).join('/'));
    expect(f('linux/amd64')).toEqual(['amd64', '386']);
    expect(f('linux/arm64')).toEqual(['arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']);
    expect(f('linux/arm/v7')).toEqual(['arm/v7', 'arm/v6', 'arm/v5']);
    expect(f('linux/arm/v6')).toEqual(['arm/v6', 'arm/v5']);
  });

  const entry = (architecture: string, variant?: string, os = 'linux') => ({
    digest: `${architecture}${variant ?? ''}`,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });

  it('chooses from an index by preference, skipping other OSes and attestations', () => {
    const index = [
      entry('unknown', undefined, 'unknown'),
      entry('amd64', undefined, 'windows'),
      entry('386'),
      entry('arm', 'v6'),
      entry('arm', 'v7'),
      entry('arm64', 'v8'),
      entry('amd64'),
    ];
    expect(choosePlatform(index, parsePlatform('linux/amd64'))?.digest).toBe('amd64');
    expect(choosePlatform(index.slice(0, 3), parsePlatform('linux/amd64'))?.digest).toBe('386');
    expect(choosePlatform(index, parsePlatform('linux/arm64'))?.digest).toBe('arm64v8');
    expect(choosePlatform(index.slice(0, 5), parsePlatform('linux/arm64'))?.digest).toBe('armv7');
    expect(choosePlatform(index, parsePlatform('linux/arm/v7'))?.digest).toBe('armv7');
    expect(choosePlatform(index.slice(0, 4), parsePlatform('linux/arm/v7'))?.digest).toBe('armv6');
    expect(choosePlatform(index, parsePlatform('linux/s390x'))).toBeUndefined();
    const bare: { digest: string; platform?: undefined }[] = [{ digest: 'x' }];
    expect(choosePlatform(bare, parsePlatform('linux/amd64'))).toBeUndefined();
  });
});

describe('manifests', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D(1), size: 10 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D(2), size: 20 }],
  };

  it('takes the media type from Content-Type, else the document, else its shape', () => {
    expect(manifestMediaType(`${MEDIA.ociIndex}; charset=utf-8`, {})).toBe(MEDIA.ociIndex);
    expect(manifestMediaType('application/json', { mediaType: MEDIA.dockerList })).toBe(MEDIA.dockerList);
    expect(manifestMediaType(undefined, { manifests: [] })).toBe(MEDIA.ociIndex);
    expect(manifestMediaType(undefined, { layers: [] })).toBe(MEDIA.ociManifest);
    expect(manifestMediaType('text/plain', { schemaVersion: 1 })).toBe(MEDIA.dockerSchema1);
  });

  it('reads schema 2 manifests, OCI manifests, manifest lists and indexes', () => {
    expect(parseManifest(Buffer.from(JSON.stringify(manifest)), MEDIA.dockerManifest, 'x')).toEqual({
      kind: 'manifest',
      config: manifest.config,
      layers: manifest.layers,
    });
    const oci = { ...manifest, mediaType: undefined };
    expect(parseManifest(Buffer.from(JSON.stringify(oci)), MEDIA.ociManifest, 'x').kind).toBe('manifest');
    const list = {
      schemaVersion: 2,
      mediaType: MEDIA.dockerList,
      manifests: [
        { mediaType: MEDIA.dockerManifest, digest: D(3), size: 5, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    expect(parseManifest(Buffer.from(JSON.stringify(list)), 'application/json', 'x')).toEqual({
      kind: 'index',
      manifests: list.manifests,
    });
  });

  it('refuses schema 1 in one line, and what is not a manifest', () => {
    const s1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] }));
    const err = (() => {
      try {
        parseManifest(s1, MEDIA.dockerSchema1Signed, 'img from reg');
      } catch (e) {
        return e as PodboxError;
      }
    })()!;
    expect([err.code, err.toLine()]).toEqual([
      'ImagePullFailed',
      'img from reg: the image has a Docker schema 1 manifest, which podbox does not pull: push the image again with a current Docker, podman or skopeo (they write schema 2 or OCI manifests)',
    ]);
    expect(() => parseManifest(Buffer.from('{'), undefined, 'i')).toThrow('i: the manifest is not valid JSON');
    expect(() => parseManifest(Buffer.from('{"layers":[{"digest":"sha256:12"}]}'), undefined, 'i')).toThrow(
      'i: config is not a descriptor with a digest and a size',
    );
    expect(() =>
      parseManifest(Buffer.from('{"mediaType":"application/vnd.cncf.helm.config.v1+json"}'), undefined, 'i'),
    ).toThrow('i: the manifest has media type application/vnd.cncf.helm.config.v1+json, which is not an image');
  });

  it('refuses digests that are not sha256 and 64 lowercase hex, and sizes that are no int64, naming the field', () => {
    const withLayer = (l: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ ...manifest, layers: [{ ...manifest.layers[0], ...l }] }));
    const refusal = (l: Record<string, unknown>) => {
      try {
        parseManifest(withLayer(l), MEDIA.dockerManifest, 'img from reg');
      } catch (e) {
        return (e as PodboxError).toLine();
      }
      return 'accepted';
    };
    const hint = ': the registry served a manifest podbox cannot read';
    expect(refusal({ digest: 'sha256:../../x' })).toBe(
      'img from reg: layers[0] has an invalid digest "sha256:../../x" (invalid checksum digest length)' + hint,
    );
    expect(refusal({ digest: `sha256:${'A'.repeat(64)}` })).toBe(
      `img from reg: layers[0] has an invalid digest "sha256:${'A'.repeat(64)}" (invalid checksum digest format)` +
        hint,
    );
    expect(refusal({ digest: `sha512:${'a'.repeat(128)}` })).toBe(
      `img from reg: layers[0] has the digest "sha512:${'a'.repeat(128)}", and podbox only pulls sha256 content` + hint,
    );
    expect(refusal({ digest: `md5:${'a'.repeat(32)}` })).toBe(
      `img from reg: layers[0] has an invalid digest "md5:${'a'.repeat(32)}" (unsupported digest algorithm md5)` + hint,
    );
    expect(refusal({ size: -1 })).toBe('img from reg: layers[0] has an invalid size -1' + hint);
    expect(refusal({ size: 2 ** 64 })).toBe('img from reg: layers[0] has an invalid size 18446744073709552000' + hint);
    expect(refusal({ size: 1.5 })).toBe('img from reg: layers[0] has an invalid size 1.5' + hint);
    expect(refusal({ size: 2 ** 40 })).toBe('accepted');
  });

  it('refuses an index entry or a config too large to be one, before fetching it', () => {
    const index = (size: number) =>
      Buffer.from(JSON.stringify({ manifests: [{ mediaType: MEDIA.ociManifest, digest: D(3), size }] }));
    expect(parseManifest(index(4 << 20), MEDIA.ociIndex, 'i').kind).toBe('index');
    expect(() => parseManifest(index((4 << 20) + 1), MEDIA.ociIndex, 'i')).toThrow(
      'i: manifests[0] is 4194305 bytes, more than a manifest may have (4 MiB)',
    );
    const big = { ...manifest, config: { ...manifest.config, size: (8 << 20) + 1 } };
    expect(() => parseManifest(Buffer.from(JSON.stringify(big)), MEDIA.dockerManifest, 'i')).toThrow(
      'i: its config is 8388609 bytes, more than an image config may have (8 MiB)',
    );
  });

  it('follows urls only for foreign and non-distributable layers', () => {
    const urls = ['https://mcr.microsoft.com/x', 'file:///etc/passwd'];
    expect(
      foreignUrls({
        mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
        digest: D(1),
        size: 1,
        urls,
      }),
    ).toEqual(['https://mcr.microsoft.com/x']);
    expect(
      foreignUrls({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D(1), size: 1, urls }),
    ).toEqual([]);
  });
});
