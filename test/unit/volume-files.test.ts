import { describe, it, expect, afterEach } from 'vitest';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomically } from '../../src/volume/atomic-writer.js';
import { formatMap, goQuote, downwardAPIPayload } from '../../src/volume/downward-api.js';
import { projectedPayload } from '../../src/volume/projected.js';
import { diskUsage, emptyDirMessage, emptyDirOverLimit, limitedEmptyDirs } from '../../src/volume/empty-dir-limit.js';
import { resourceFieldValue } from '../../src/api/resource-field.js';
import { canonicalQuantity } from '../../src/api/quantity.js';
import { parseManifest } from '../../src/api/manifest.js';
import { PodMachine } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';
import { pod as podManifest } from '../helpers/pods.js';

const NODE = { cpu: 4, memory: 8 * 2 ** 30, ephemeralStorage: 100 * 2 ** 30 };
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pb-vol-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the kubelet's atomic writer layout", () => {
  it('writes a timestamped directory, ..data pointing at it, and each top-level name as a symlink into ..data', () => {
    const dir = tmp();
    writeAtomically('v', dir, [
      { path: 'a', content: Buffer.from('A'), mode: 0o400 },
      { path: 'sub/b', content: Buffer.from('B'), mode: 0o640 },
    ]);
    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(4);
    const ts = names.find((n) => n !== '..data' && n.startsWith('..'))!;
    expect(ts).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+$/);
    expect(names).toEqual(['..data', ts, 'a', 'sub'].sort());
    expect(readlinkSync(join(dir, '..data'))).toBe(ts);
    expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
    expect(readlinkSync(join(dir, 'sub'))).toBe('..data/sub');
    expect(readFileSync(join(dir, 'sub/b'), 'utf8')).toBe('B');
    expect(lstatSync(join(dir, ts, 'a')).mode & 0o777).toBe(0o400);
    expect(lstatSync(join(dir, ts, 'sub/b')).mode & 0o777).toBe(0o640);
    expect(lstatSync(join(dir, ts, 'sub')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(dir, ts)).mode & 0o777).toBe(0o755);
  });

  it('a second write swaps ..data to a new directory, removes the old one and the names it alone had', () => {
    const dir = tmp();
    writeAtomically('v', dir, [
      { path: 'a', content: Buffer.from('1'), mode: 0o644 },
      { path: 'gone', content: Buffer.from('x'), mode: 0o644 },
    ]);
    const first = readlinkSync(join(dir, '..data'));
    writeAtomically('v', dir, [{ path: 'a', content: Buffer.from('2'), mode: 0o644 }]);
    const second = readlinkSync(join(dir, '..data'));
    expect(second).not.toBe(first);
    expect(readdirSync(dir).sort()).toEqual(['..data', second, 'a'].sort());
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('2');
  });

  it('refuses a path that leaves the volume or takes a name of its own', () => {
    const dir = tmp();
    expect(() => writeAtomically('v', dir, [{ path: '../x', content: Buffer.from(''), mode: 0o644 }])).toThrow(
      'volume "v": item path "../x" leaves the volume or is reserved',
    );
    expect(() => writeAtomically('v', dir, [{ path: '..data', content: Buffer.from(''), mode: 0o644 }])).toThrow(
      'volume "v": item path "..data" leaves the volume or is reserved',
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('downward API files', () => {
  it('labels and annotations as fieldpath.FormatMap: sorted key="value" lines, Go\'s quoting, no final newline', () => {
    expect(formatMap({ tier: 'fr"ont', app: 'web', z: 'a\\b\nc\x01' })).toBe(
      'app="web"\ntier="fr\\"ont"\nz="a\\\\b\\nc\\x01"',
    );
    expect(goQuote('é\x7f\t')).toBe('"é\\x7f\\t"');
  });

  it('items with their mode or the default mode; metadata fields and a missing label as empty', () => {
    const p = pod({}, 'dapi');
    p.metadata.labels = { app: 'web' };
    const files = downwardAPIPayload(
      p,
      [
        { path: 'name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o600 },
        { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
        { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
        { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
        { path: 'none', fieldRef: { fieldPath: "metadata.labels['none']" } },
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
      ],
      0o444,
      NODE,
    );
    expect(files.map((f) => [f.path, f.content.toString(), f.mode])).toEqual([
      ['name', 'dapi', 0o600],
      ['ns', 'default', 0o444],
      ['uid', '1111-2222', 0o444],
      ['app', 'web', 0o444],
      ['none', '', 0o444],
      ['labels', 'app="web"', 0o444],
    ]);
  });

  it('resources divided by the divisor and rounded up; a missing limit is the node allocatable, a missing request the limit', () => {
    const p = pod({
      containers: [
        container('a', { resources: { limits: { cpu: '250m', memory: '100Mi' }, requests: { memory: '1500k' } } }),
        container('b'),
      ],
    });
    const v = (containerName: string, resource: string, divisor?: string) =>
      resourceFieldValue(p, { containerName, resource, divisor }, NODE);
    expect(v('a', 'limits.cpu')).toBe('1'); // 0.25 rounded up
    expect(v('a', 'limits.cpu', '1m')).toBe('250');
    expect(v('a', 'requests.cpu', '1m')).toBe('250'); // the limit stands for the request
    expect(v('a', 'limits.memory', '1Mi')).toBe('100');
    expect(v('a', 'requests.memory', '1Mi')).toBe('2'); // 1.43 Mi rounded up
    expect(v('a', 'requests.memory')).toBe('1500000');
    expect(v('b', 'limits.cpu', '1m')).toBe('4000');
    expect(v('b', 'limits.memory', '1Gi')).toBe('8');
    expect(v('b', 'limits.ephemeral-storage', '1Gi')).toBe('100');
    expect(v('b', 'requests.cpu')).toBe('0');
    expect(v('c', 'limits.cpu')).toBeUndefined();
  });
});

describe('projected volumes', () => {
  it('merges configMap, secret and downwardAPI sources with the volume defaultMode; an optional absent object adds nothing', () => {
    const text = [
      podManifest('pj', {
        containers: [{ name: 'app', image: 'localhost/busybox:test' }],
        volumes: [
          {
            name: 'p',
            projected: {
              defaultMode: 0o440,
              sources: [
                { configMap: { name: 'cfg' } },
                { secret: { name: 'sec', items: [{ key: 'token', path: 'auth/token', mode: 0o400 }] } },
                { configMap: { name: 'absent', optional: true } },
                { downwardAPI: { items: [{ path: 'podname', fieldRef: { fieldPath: 'metadata.name' } }] } },
              ],
            },
          },
        ],
      }),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'A' } }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, stringData: { token: 's' } }),
    ].join('\n---\n');
    const m = parseManifest(text, 'test');
    const files = projectedPayload(m, m.pod.spec.volumes![0]!.projected!, NODE);
    expect(files.map((f) => [f.path, f.content.toString(), f.mode])).toEqual([
      ['a', 'A', 0o440],
      ['auth/token', 's', 0o400],
      ['podname', 'pj', 0o440],
    ]);
  });
});

describe('emptyDir sizeLimit on disk', () => {
  it('counts allocated blocks like du: a hard link once, a symlink not followed', () => {
    const dir = tmp();
    const outside = tmp();
    writeFileSync(join(outside, 'big'), Buffer.alloc(1 << 20, 1));
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'f'), Buffer.alloc(64 * 1024, 1));
    linkSync(join(dir, 'd', 'f'), join(dir, 'hard'));
    symlinkSync(join(outside, 'big'), join(dir, 'link'));
    const used = diskUsage(dir);
    const f = lstatSync(join(dir, 'd', 'f')).blocks * 512;
    const d = lstatSync(join(dir, 'd')).blocks * 512;
    const l = lstatSync(join(dir, 'link')).blocks * 512;
    expect(used).toBe(f + d + l);
    expect(used).toBeLessThan(1 << 20);
  });

  it("the eviction message is helpers.go's, the limit in canonical form; only disk emptyDirs with a positive limit are watched", () => {
    expect(emptyDirMessage('cache', '1024Ki')).toBe('Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ');
    const p = pod({
      volumes: [
        { name: 'a', emptyDir: { sizeLimit: '1Mi' } },
        { name: 'm', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
        { name: 'z', emptyDir: { sizeLimit: '0' } },
        { name: 'n', emptyDir: {} },
      ],
    });
    const watched = limitedEmptyDirs(p, (v) => `/pods/x/volumes/${v}`);
    expect(watched).toEqual([{ name: 'a', path: '/pods/x/volumes/a', limitBytes: 1 << 20, limit: '1Mi' }]);
    expect(emptyDirOverLimit(watched, () => 1 << 20)).toBeUndefined(); // at the limit is not over it
    expect(emptyDirOverLimit(watched, () => (1 << 20) + 1)).toBe(
      'Usage of EmptyDir volume "a" exceeds the limit "1Mi". ',
    );
  });

  it('canonical quantities as resource.Quantity.String prints them', () => {
    expect(['1024Ki', '1Mi', '1000000', '1500k', '2048', '0Mi', '1.5Mi', '1e3'].map(canonicalQuantity)).toEqual([
      '1Mi',
      '1Mi',
      '1M',
      '1500k',
      '2048',
      '0',
      '1.5Mi',
      '1e3',
    ]);
  });

  it('an eviction fails the pod with reason Evicted, a Warning event, and kills every container at once (no preStop)', () => {
    const clock = new FakeClock();
    const m = new PodMachine(
      pod({
        containers: [container('a', { lifecycle: { preStop: { exec: { command: ['true'] } } } }), container('b')],
        restartPolicy: 'Always',
      }),
      clock,
      KUBELET_BACKOFF,
    );
    m.sandboxReady();
    m.actions();
    m.started('a', 'x');
    m.started('b', 'x');
    const message = 'Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ';
    m.evicted(message);
    expect(m.actions()).toEqual([
      { type: 'kill', container: 'a', signal: 'SIGKILL' },
      { type: 'kill', container: 'b', signal: 'SIGKILL' },
    ]);
    expect(
      m
        .eventLog()
        .filter((e) => e.reason === 'Evicted')
        .map((e) => [e.type, e.message]),
    ).toEqual([['Warning', message]]);
    m.exited('a', 137, 9);
    m.exited('b', 137, 9);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    const st = m.status();
    expect([st.phase, st.reason, st.message]).toEqual(['Failed', 'Evicted', message]);
  });
});

describe('the API server refuses these volumes as it does', () => {
  const refusal = (vol: object, objects: object[] = []) => {
    const text = [
      podManifest('v', { containers: [{ name: 't', image: 'localhost/busybox:test' }], volumes: [vol] }),
      ...objects.map((o) => JSON.stringify(o)),
    ].join('\n---\n');
    try {
      parseManifest(text, 'pod.yaml');
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  const dapi = (item: object) => ({ name: 'a', downwardAPI: { items: [item] } });

  it('downwardAPI items: only metadata fields, one source, a container for a resource, divisors, paths', () => {
    expect(refusal(dapi({ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }))).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
    );
    expect(refusal(dapi({ path: 'm', resourceFieldRef: { resource: 'limits.memory' } }))).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName: Required value',
    );
    expect(refusal(dapi({ path: 'm', resourceFieldRef: { containerName: 't', resource: 'limits.gpu' } }))).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0].resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"',
    );
    expect(
      refusal(dapi({ path: 'm', resourceFieldRef: { containerName: 't', resource: 'limits.cpu', divisor: '2' } })),
    ).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0].resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor\'s values 1m and 1 are supported with the cpu resource',
    );
    expect(refusal(dapi({ path: '..m', fieldRef: { fieldPath: 'metadata.name' } }))).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0].path: Invalid value: "..m": must not start with \'..\'',
    );
    expect(refusal(dapi({ path: 'm' }))).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].downwardAPI.items[0]: Required value: one of fieldRef and resourceFieldRef is required',
    );
    expect(refusal(dapi({ path: 'm', fieldRef: { fieldPath: "metadata.labels['x']" } }))).toBe('accepted');
  });

  it('projected: no token or trust bundle, referenced objects present unless optional, no path twice', () => {
    expect(refusal({ name: 'a', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } })).toBe(
      'pod.yaml: pod "v": spec.volumes[0].projected.sources[0].serviceAccountToken: serviceAccountToken projections are not supported: podbox has no API server to issue them',
    );
    expect(refusal({ name: 'a', projected: { sources: [{ clusterTrustBundle: { path: 'ca' } }] } })).toBe(
      'pod.yaml: pod "v": spec.volumes[0].projected.sources[0].clusterTrustBundle: clusterTrustBundle projections are not supported: podbox has no API server to issue them',
    );
    expect(refusal({ name: 'a', projected: { sources: [{ configMap: { name: 'nope' } }] } })).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].projected.sources[0].configMap: configmap "nope" not found',
    );
    expect(refusal({ name: 'a', projected: { sources: [{ configMap: { name: 'nope', optional: true } }] } })).toBe(
      'accepted',
    );
    const n = (fieldPath: string) => ({ downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath } }] } });
    expect(refusal({ name: 'a', projected: { sources: [n('metadata.name'), n('metadata.uid')] } })).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].projected: Invalid value: "n": conflicting duplicate paths',
    );
  });

  it('env resourceFieldRef: containerName may be left out, a named one must exist, the divisor is checked', () => {
    const withEnv = (env: object) =>
      parseManifest(
        podManifest('e', { containers: [{ name: 't', image: 'localhost/busybox:test', env: [env] }] }),
        'pod.yaml',
      );
    const refused = (env: object) => {
      try {
        withEnv(env);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ name: 'M', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } })).toBe('accepted');
    expect(
      refused({ name: 'M', valueFrom: { resourceFieldRef: { containerName: 'x', resource: 'limits.memory' } } }),
    ).toBe(
      'pod.yaml: pod "e" is invalid: spec.containers[0].env[0].valueFrom.resourceFieldRef.containerName: Not found: "x"',
    );
    expect(refused({ name: 'M', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '3Mi' } } })).toBe(
      'pod.yaml: pod "e" is invalid: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "limits.memory": only divisor\'s values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource',
    );
  });

  it('image: a reference is required; one volume type per volume', () => {
    expect(refusal({ name: 'a', image: {} })).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0].image.reference: Required value',
    );
    expect(refusal({ name: 'a', image: { reference: 'x:1' }, emptyDir: {} })).toBe(
      'pod.yaml: pod "v" is invalid: spec.volumes[0]: may not specify more than 1 volume type (emptyDir, image)',
    );
  });
});
