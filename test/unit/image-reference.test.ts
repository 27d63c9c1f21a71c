import { describe, expect, it } from 'vitest';
import { statusImageID } from '../../src/image/resolve.js';
import type { StoredImage } from '../../src/image/store.js';
import {
  parseReference,
  normalizeReference,
  familiarReference,
  familiarize,
  formatReference,
} from '../../src/image/reference.js';
import { PodboxError } from '../../src/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references, normalised as Docker does', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/busybox:1', 'docker.io/library/busybox:1', 'busybox:1'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['docker.io/user/app:v2', 'docker.io/user/app:v2', 'user/app:v2'],
    ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['localhost/busybox:test', 'localhost/busybox:test', 'localhost/busybox:test'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
    ['localhost:5000/team/app:1.0', 'localhost:5000/team/app:1.0', 'localhost:5000/team/app:1.0'],
    ['quay.io/a/b', 'quay.io/a/b:latest', 'quay.io/a/b:latest'],
    [`quay.io/a/b@${D}`, `quay.io/a/b@${D}`, `quay.io/a/b@${D}`],
    [`example.com/x:tag@${D}`, `example.com/x:tag@${D}`, `example.com/x:tag@${D}`],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    ['127.0.0.1:5000/x:y', '127.0.0.1:5000/x:y', '127.0.0.1:5000/x:y'],
    ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
    ['Example.COM/x', 'Example.COM/x:latest', 'Example.COM/x:latest'],
    ['a.b-c/d__e.f-g--h:T_a.g-9', 'a.b-c/d__e.f-g--h:T_a.g-9', 'a.b-c/d__e.f-g--h:T_a.g-9'],
    ['registry:5000/app', 'registry:5000/app:latest', 'registry:5000/app:latest'],
  ])('%s → %s (familiar %s)', (input, full, familiar) => {
    expect(normalizeReference(input)).toBe(full);
    expect(familiarReference(parseReference(input))).toBe(familiar);
    expect(familiarize(full)).toBe(familiar);
    // normalising is idempotent
    expect(normalizeReference(full)).toBe(full);
  });

  it('splits a reference into domain, path, tag and digest', () => {
    expect(parseReference('busybox')).toEqual({ domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
    expect(parseReference(`localhost:5000/a/b:c@${D}`)).toEqual({
      domain: 'localhost:5000',
      path: 'a/b',
      tag: 'c',
      digest: D,
    });
    expect(parseReference(`quay.io/a@${D}`)).toEqual({ domain: 'quay.io', path: 'a', digest: D });
    expect(formatReference({ domain: 'docker.io', path: 'library/x', digest: D })).toBe(`docker.io/library/x@${D}`);
  });

  it.each([
    ['', 'repository name must have at least one component'],
    ['Busybox', 'repository name (library/Busybox) must be lowercase'],
    ['docker.io/User/app', 'repository name (User/app) must be lowercase'],
    ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
    ['busybox:', 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['busybox:tag:again', 'invalid reference format'],
    ['busy box', 'invalid reference format'],
    ['busybox/', 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['busybox_', 'invalid reference format'],
    ['a..b', 'invalid reference format'],
    ['/busybox', 'invalid reference format'],
    ['busybox:' + 't'.repeat(129), 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['busybox@sha256:' + 'a'.repeat(63), 'invalid checksum digest length'],
    ['busybox@sha256:' + 'A'.repeat(64), 'invalid checksum digest format'],
    ['busybox@md5:' + 'a'.repeat(32), 'unsupported digest algorithm md5'],
    ['localhost:port/x', 'invalid reference format'],
    ['x/' + 'a'.repeat(260), 'repository name must not be more than 255 characters'],
  ])('refuses %j (%s)', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PodboxError);
    expect((err as PodboxError).code).toBe('InvalidArgument');
    expect((err as PodboxError).message).toBe(`invalid image reference "${input}": ${why}`);
  });

  it('keeps a tag of up to 128 characters', () => {
    const t = 'v' + '1'.repeat(127);
    expect(normalizeReference(`busybox:${t}`)).toBe(`docker.io/library/busybox:${t}`);
  });

  it('familiarize leaves what does not parse alone', () => {
    expect(familiarize('sha256:' + 'b'.repeat(64))).toBe('sha256:' + 'b'.repeat(64));
  });
});

describe('statusImageID (the imageID a container status reports)', () => {
  const img = (digests: string[]) =>
    ({ id: 'sha256:' + 'a'.repeat(64), names: [], digests, rootfs: '/', config: {}, size: 0 }) as StoredImage;
  const d = (repo: string) => `${repo}@sha256:${'b'.repeat(64)}`;
  it("the repo digest in the container image's repository, else the first, else the image id", () => {
    expect(statusImageID(img([d('docker.io/library/alpine'), d('docker.io/library/busybox')]), 'busybox:1.36')).toBe(
      d('docker.io/library/busybox'),
    );
    expect(statusImageID(img([d('quay.io/x/busybox')]), 'busybox')).toBe(d('quay.io/x/busybox'));
    expect(statusImageID(img([]), 'busybox')).toBe('sha256:' + 'a'.repeat(64));
  });
});
