import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isDefaultRegistryMatch,
  keyMatches,
  keyringIndexKey,
  keyringLookup,
  userFileLookup,
} from '../../src/registry/keyring.js';
import { credentialCandidates, type DockerConfigJson } from '../../src/registry/credentials.js';
import { authFilePath, removeLogin, storeLogin } from '../../src/registry/auth-file.js';
import { PodboxError } from '../../src/errors.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe("pull secret keys, matched as the kubelet's keyring does (keyring.go)", () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://quay.io/org', 'quay.io/org'],
    ['quay.io', 'quay.io'],
    ['quay.io/', 'quay.io'],
    ['https://my.registry:5000/v2/', 'my.registry:5000'],
    ['https://my.registry/v2/team', 'my.registry/team'],
    ['*.example.com', '*.example.com'],
  ])('key %s is indexed as %s', (key, index) => {
    expect(keyringIndexKey(key)).toBe(index);
  });

  it.each([
    ['quay.io', 'quay.io/coreos/etcd', true],
    ['quay.io/coreos', 'quay.io/coreos/etcd', true],
    ['quay.io/other', 'quay.io/coreos/etcd', false],
    ['*.example.com', 'a.example.com/x', true],
    ['*.example.com', 'a.b.example.com/x', false],
    ['*.example.com', 'example.com/x', false],
    ['*.*.example.com', 'a.b.example.com', true],
    ['reg?.io', 'reg1.io', true],
    ['127.0.0.1:5000', '127.0.0.1:5000/app', true],
    ['127.0.0.1:5000', '127.0.0.1:5001/app', false],
    ['127.0.0.1', '127.0.0.1:5000/app', false],
    ['index.docker.io', 'docker.io/library/busybox', false],
    ['docker.io', 'docker.io/library/busybox', true],
  ])('key %s matches %s: %s', (key, image, expected) => {
    expect(keyMatches(key, image)).toBe(expected);
  });

  it.each([
    ['docker.io/library/busybox', true],
    ['library/busybox', true],
    ['busybox', true],
    ['index.docker.io/x/y', true],
    ['quay.io/x', false],
    ['localhost:5000/x', false],
  ])('%s is on Docker Hub: %s', (image, expected) => {
    expect(isDefaultRegistryMatch(image)).toBe(expected);
  });

  it('returns every matching entry, the most specific key first, Docker Hub only as the fallback', () => {
    const a = { 'quay.io': 'A-host', 'https://index.docker.io/v1/': 'A-hub' };
    const b = { 'quay.io/coreos': 'B-ns', 'quay.io': 'B-host' };
    expect(keyringLookup([a, b], 'quay.io/coreos/etcd')).toEqual(['B-ns', 'A-host', 'B-host']);
    expect(keyringLookup([a, b], 'docker.io/library/busybox')).toEqual(['A-hub']);
    expect(keyringLookup([a, b], 'docker.io')).toEqual(['A-hub']);
    expect(keyringLookup([a, b], 'ghcr.io/x')).toEqual([]);
    // An exact docker.io key matches, and then the fallback is not used.
    expect(keyringLookup([a, { 'docker.io': 'C' }], 'docker.io/library/busybox')).toEqual(['C']);
  });
});

describe("the user's files, matched as podman does (containers/image config.go)", () => {
  const auths = {
    'quay.io': 'host',
    'quay.io/team': 'team',
    'https://index.docker.io/v1/': 'hub',
    'http://old.example.com/v1/': 'legacy',
    'ghcr.io/ns': 'ns-only',
  };
  it.each([
    ['quay.io', 'quay.io', 'host'],
    ['quay.io/team/app', 'quay.io/team', 'team'],
    ['quay.io/other/app', 'quay.io', 'host'],
    ['docker.io', 'https://index.docker.io/v1/', 'hub'],
    ['docker.io/library/busybox', 'https://index.docker.io/v1/', 'hub'],
    ['old.example.com', 'http://old.example.com/v1/', 'legacy'],
  ])('%s uses the key %s', (image, key, entry) => {
    expect(userFileLookup(auths, image)).toEqual({ key, entry });
  });
  it('a namespace key applies only to its namespace', () => {
    expect(userFileLookup(auths, 'ghcr.io')).toBeUndefined();
    expect(userFileLookup(auths, 'ghcr.io/ns/app')).toEqual({ key: 'ghcr.io/ns', entry: 'ns-only' });
  });
});

describe('credentialCandidates: pull secrets, then auth.json, then the docker config', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let warnings: string[];
  const warn = (l: string) => warnings.push(l);
  const write = (path: string, v: unknown) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, typeof v === 'string' ? v : JSON.stringify(v));
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-creds-'));
    warnings = [];
    env = {
      PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
      HOME: join(dir, 'home'),
      XDG_RUNTIME_DIR: join(dir, 'run'),
      XDG_CONFIG_HOME: join(dir, 'config'),
    };
    mkdirSync(join(dir, 'bin'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake `docker-credential-NAME` that answers `reply` for `server` and "not found" otherwise. */
  const helper = (name: string, script: string) => {
    const path = join(dir, 'bin', `docker-credential-${name}`);
    writeFileSync(path, `#!/bin/sh\n${script}\n`);
    chmodSync(path, 0o755);
  };

  it('orders the sources as the kubelet and podman do, without duplicates', () => {
    write(join(dir, 'run/containers/auth.json'), { auths: { 'reg.example:5000': { auth: b64('run:1') } } });
    write(join(dir, 'config/containers/auth.json'), { auths: { 'reg.example:5000': { auth: b64('run:1') } } });
    write(join(dir, 'home/.docker/config.json'), {
      auths: { 'https://reg.example:5000': { username: 'docker', password: 'p:w' } },
    });
    const secrets: DockerConfigJson[] = [
      { auths: { 'reg.example:5000': { auth: b64('secret:s') } } },
      { auths: { 'other.example': { auth: b64('no:no') } } },
    ];
    expect(credentialCandidates('reg.example:5000', secrets, warn, env)).toEqual([
      { username: 'secret', password: 's' },
      { username: 'run', password: '1' },
      { username: 'docker', password: 'p:w' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('REGISTRY_AUTH_FILE and DOCKER_CONFIG move the files', () => {
    write(join(dir, 'elsewhere.json'), { auths: { 'ghcr.io': { auth: b64('a:b') } } });
    write(join(dir, 'dc/config.json'), { auths: { 'ghcr.io': { identitytoken: 'tok' } } });
    const e = { ...env, REGISTRY_AUTH_FILE: join(dir, 'elsewhere.json'), DOCKER_CONFIG: join(dir, 'dc') };
    expect(credentialCandidates('ghcr.io', [], warn, e)).toEqual([
      { username: 'a', password: 'b' },
      { identityToken: 'tok' },
    ]);
  });

  it('asks credHelpers[registry] with the server URL on stdin; <token> is an identity token', () => {
    helper(
      'test',
      'read url; if [ "$url" = reg.example ]; then echo \'{"Username":"<token>","Secret":"id-tok"}\'; exit 0; fi\n' +
        'echo "credentials not found in native keychain"; exit 1',
    );
    helper(
      'hub',
      'read url; [ "$url" = https://index.docker.io/v1/ ] &&\n' +
        'echo \'{"ServerURL":"x","Username":"hubuser","Secret":"hubpw"}\'',
    );
    write(join(dir, 'home/.docker/config.json'), {
      credHelpers: { 'reg.example': 'test', 'other.example': 'test', 'https://index.docker.io/v1/': 'hub' },
      auths: { 'reg.example': {} },
    });
    expect(credentialCandidates('reg.example', [], warn, env)).toEqual([{ identityToken: 'id-tok' }]);
    expect(credentialCandidates('other.example', [], warn, env)).toEqual([]);
    expect(credentialCandidates('docker.io/library/busybox', [], warn, env)).toEqual([
      { username: 'hubuser', password: 'hubpw' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('credsStore serves every registry without a credHelpers entry', () => {
    helper('store', 'read url; echo "{\\"Username\\":\\"u-$url\\",\\"Secret\\":\\"s\\"}"');
    write(join(dir, 'home/.docker/config.json'), { credsStore: 'store' });
    expect(credentialCandidates('quay.io', [], warn, env)).toEqual([{ username: 'u-quay.io', password: 's' }]);
  });

  it('skips an absent or failing helper with a warning naming it, never what it printed', () => {
    helper('broken', 'echo "the-secret-it-leaked"; echo oops >&2; exit 3');
    write(join(dir, 'home/.docker/config.json'), {
      credHelpers: { 'a.example': 'absent', 'b.example': 'broken' },
      auths: { 'b.example': { auth: b64('fallback:pw') } },
    });
    expect(credentialCandidates('a.example', [], warn, env)).toEqual([]);
    expect(credentialCandidates('b.example', [], warn, env)).toEqual([{ username: 'fallback', password: 'pw' }]);
    const config = join(dir, 'home/.docker/config.json');
    expect(warnings).toEqual([
      'credential helper docker-credential-absent is not installed (not found in PATH); ' +
        `skipping it for a.example (named in ${config})`,
      `credential helper docker-credential-broken exited with status 3; skipping it for b.example (named in ${config})`,
    ]);
  });

  it('a malformed file is one error naming the file, with no content in it', () => {
    const path = join(dir, 'run/containers/auth.json');
    write(path, '{"auths": {"x": {"auth": "c2VjcmV0"}');
    let err: unknown;
    try {
      credentialCandidates('x', [], warn, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PodboxError);
    expect((err as PodboxError).toLine()).toMatch(
      new RegExp(`^credential file ${path} is malformed: not valid JSON \\(.*\\): fix or remove the file`),
    );
    expect((err as PodboxError).toLine()).not.toContain('c2VjcmV0');
    write(path, { auths: { x: { auth: 5 } } });
    expect(() => credentialCandidates('x', [], warn, env)).toThrow(
      `credential file ${path} is malformed: "auths" entry "x": "auth" is not a string`,
    );
  });

  it('an auth that is not base64(user:password) is skipped with a warning', () => {
    const secrets = [{ auths: { 'q.io': { auth: b64('no-colon') } } }];
    expect(credentialCandidates('q.io', secrets, warn, env)).toEqual([]);
    expect(warnings).toEqual([
      'the "auth" of q.io in an image pull secret is not base64("user:password"); skipping it',
    ]);
  });
});

describe('storeLogin/removeLogin: the auth file podman keeps', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-auth-'));
    env = { XDG_RUNTIME_DIR: dir, HOME: dir };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes 0600 in a 0700 dir, keeping other entries and keys', () => {
    const path = authFilePath(env);
    expect(path).toBe(join(dir, 'containers/auth.json'));
    mkdirSync(join(dir, 'containers'), { mode: 0o700 });
    writeFileSync(path, JSON.stringify({ auths: { 'a.io': { auth: b64('a:a') } }, credHelpers: { 'c.io': 'x' } }));
    storeLogin('127.0.0.1:5000', 'me', 'pw', env);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      auths: { 'a.io': { auth: b64('a:a') }, '127.0.0.1:5000': { auth: b64('me:pw') } },
      credHelpers: { 'c.io': 'x' },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(removeLogin('127.0.0.1:5000', env)).toEqual(['127.0.0.1:5000']);
    expect(removeLogin('127.0.0.1:5000', env)).toEqual([]);
    expect(removeLogin(undefined, env)).toEqual(['a.io']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ auths: {}, credHelpers: { 'c.io': 'x' } });
  });

  it('creates the directory 0700', () => {
    storeLogin('q.io', 'u', 'p', env);
    expect(statSync(join(dir, 'containers')).mode & 0o777).toBe(0o700);
  });
});
