import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpointsFor, endpointsFrom, isLoopback, parseRegistriesConf } from '../../src/registry/registries-conf.js';

const CONF = `
unqualified-search-registries = ["docker.io"]

[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "cache.ci.internal:5000"
insecure = true
[[registry.mirror]]
location = "mirror.gcr.io"

[[registry]]
prefix = "quay.io"
location = "quay-proxy.example.com"

[[registry]]
location = "dev.example.com:5000"
insecure = true

[[registry]]
prefix = "*.corp.example"
mirror-by-digest-only = true
[[registry.mirror]]
location = "digests.corp.example"

[[registry]]
location = "evil.example"
blocked = true

[[registry]]
location = "example.com/team"

[registries.insecure]
registries = ["old-style.example:8080"]
`;

describe('registries.conf (containers-registries.conf v2), as podbox reads it', () => {
  let warnings: string[];
  const env = {};
  beforeEach(() => (warnings = []));
  const configs = () => parseRegistriesConf(CONF, '/x/registries.conf', (l) => warnings.push(l));

  it('puts mirrors first, in order, then the registry (Docker Hub at its API host)', () => {
    expect(endpointsFrom(configs(), 'docker.io', {}, env)).toEqual([
      { host: 'cache.ci.internal:5000', insecure: true, mirror: true },
      { host: 'mirror.gcr.io', insecure: false, mirror: true },
      { host: 'registry-1.docker.io', insecure: false, mirror: false },
    ]);
  });

  it('a location rewrites where the registry is contacted', () => {
    expect(endpointsFrom(configs(), 'quay.io', {}, env)).toEqual([
      { host: 'quay-proxy.example.com', insecure: false, mirror: false },
    ]);
  });

  it('marks registries insecure from the file, the v1 table, --insecure, the env list and the loopback', () => {
    const one = (registry: string, opts = {}, e: NodeJS.ProcessEnv = env) =>
      endpointsFrom(configs(), registry, opts, e).map((x) => [x.host, x.insecure]);
    expect(one('dev.example.com:5000')).toEqual([['dev.example.com:5000', true]]);
    expect(one('old-style.example:8080')).toEqual([['old-style.example:8080', true]]);
    expect(one('ghcr.io')).toEqual([['ghcr.io', false]]);
    expect(one('ghcr.io', { insecure: true })).toEqual([['ghcr.io', true]]);
    const listed = { PODBOX_INSECURE_REGISTRIES: 'a.example:5000, b.example' };
    expect(one('a.example:5000', {}, listed)).toEqual([['a.example:5000', true]]);
    expect(one('a.example:5001', {}, listed)).toEqual([['a.example:5001', false]]);
    expect(one('b.example:443', {}, listed)).toEqual([['b.example:443', true]]);
    expect(one('127.0.0.1:5000')).toEqual([['127.0.0.1:5000', true]]);
    expect(one('localhost:5000')).toEqual([['localhost:5000', true]]);
    expect(one('[::1]:5000')).toEqual([['[::1]:5000', true]]);
  });

  it('a wildcard prefix matches hosts under it; digest-only mirrors serve digest pulls only', () => {
    expect(endpointsFrom(configs(), 'a.corp.example', {}, env).map((e) => e.host)).toEqual(['a.corp.example']);
    expect(endpointsFrom(configs(), 'a.corp.example', { digest: true }, env).map((e) => e.host)).toEqual([
      'digests.corp.example',
      'a.corp.example',
    ]);
    expect(endpointsFrom(configs(), 'corp.example', {}, env).map((e) => e.host)).toEqual(['corp.example']);
  });

  it('refuses a blocked registry, naming the file', () => {
    expect(() => endpointsFrom(configs(), 'evil.example', {}, env)).toThrow(
      'registry evil.example is blocked in /x/registries.conf (blocked = true)',
    );
  });

  it('skips an entry with a path, with a warning', () => {
    configs();
    expect(warnings).toEqual([
      '/x/registries.conf: [[registry]] 6: location "example.com/team" has a path; ' +
        'podbox configures whole registries only, so it is skipped',
    ]);
  });

  it.each([
    ['[[registry]]\nlocation = \n', 'registries file /x/r.conf: line 2, column 12: invalid value'],
    [
      '[[registry]]\ninsecure = "yes"\nlocation = "a"\n',
      'registries file /x/r.conf: [[registry]] 1: insecure must be true or false',
    ],
    ['[[registry]]\ninsecure = true\n', 'registries file /x/r.conf: [[registry]] 1: location or prefix is required'],
    [
      '[[registry]]\nlocation = "a"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "some"\n',
      'registries file /x/r.conf: [[registry]] 1, mirror 1: ' +
        'pull-from-mirror must be "all", "digest-only" or "tag-only"',
    ],
  ])('an invalid file is one error naming it: %j', (text, message) => {
    expect(() => parseRegistriesConf(text, '/x/r.conf', () => {})).toThrow(message);
  });

  it.each([
    ['localhost', true],
    ['127.1.2.3:80', true],
    ['[::1]', true],
    ['128.0.0.1', false],
    ['localhost.example', false],
  ])('%s is on the loopback interface: %s', (h, expected) => {
    expect(isLoopback(h)).toBe(expected);
  });
});

describe('endpointsFor reads the file podman users have', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'podbox-regconf-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('from XDG_CONFIG_HOME, or CONTAINERS_REGISTRIES_CONF', () => {
    mkdirSync(join(dir, 'containers'));
    writeFileSync(join(dir, 'containers/registries.conf'), '[[registry]]\nlocation = "r.example"\ninsecure = true\n');
    writeFileSync(join(dir, 'other.conf'), '[[registry]]\nlocation = "r.example"\nblocked = true\n');
    expect(endpointsFor('r.example', {}, { XDG_CONFIG_HOME: dir })).toEqual([
      { host: 'r.example', insecure: true, mirror: false },
    ]);
    expect(() => endpointsFor('r.example', {}, { CONTAINERS_REGISTRIES_CONF: join(dir, 'other.conf') })).toThrow(
      `registry r.example is blocked in ${join(dir, 'other.conf')}`,
    );
    expect(endpointsFor('r.example', {}, { CONTAINERS_REGISTRIES_CONF: join(dir, 'absent.conf') })).toEqual([
      { host: 'r.example', insecure: false, mirror: false },
    ]);
  });
});
