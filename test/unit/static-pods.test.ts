import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '../../src/api/manifest.js';
import {
  canonicalJson,
  configHash,
  isManifestName,
  staticManifest,
  staticPodName,
  staticSourceOf,
} from '../../src/static/static-pod.js';
import { plan, type ObservedPod } from '../../src/static/reconcile.js';
import { manifestFiles, readSource, type SourceFile } from '../../src/static/file-source.js';
import { pod } from '../helpers/pods.js';

const DIR = '/srv/manifests';
const app = { containers: [{ name: 'app', image: 'localhost/busybox:test' }] };
const manifest = (metadata: Record<string, unknown> = {}, spec: Record<string, unknown> = app) =>
  parseManifest(pod('web', spec, metadata), 'test');

describe('static pod files', () => {
  it('reads *.yaml, *.yml and *.json, never a dotfile or anything else', () => {
    expect(
      ['a.yaml', 'b.yml', 'c.json', '.d.yaml', 'e.yaml~', 'f.txt', 'README', 'g.yaml.swp'].filter(isManifestName),
    ).toEqual(['a.yaml', 'b.yml', 'c.json']);
  });

  it('names the pod NAME-NODENAME, as the kubelet names a static pod', () => {
    expect(staticPodName('web')).toBe('web-podbox');
  });
});

describe('the config hash', () => {
  it('is the same for the same object however it is written', () => {
    const a = parseManifest(pod('web', app, { labels: { p: '1', q: '2' } }), 'test');
    const b = parseManifest(
      'apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {q: "2", p: "1"}\n  name: web\nspec:\n' +
        '  containers:\n  - image: localhost/busybox:test\n    name: app\n',
      'test',
    );
    expect(configHash(a, `${DIR}/web.yaml`)).toBe(configHash(b, `${DIR}/web.yaml`));
    expect(configHash(a, `${DIR}/web.yaml`)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('changes with the spec, with labels or annotations alone, and with the file it is in', () => {
    const base = configHash(manifest(), `${DIR}/web.yaml`);
    const spec = { containers: [{ name: 'app', image: 'localhost/busybox:test', args: ['x'] }] };
    expect(configHash(manifest({}, spec), `${DIR}/web.yaml`)).not.toBe(base);
    expect(configHash(manifest({ labels: { a: 'b' } }), `${DIR}/web.yaml`)).not.toBe(base);
    expect(configHash(manifest({ annotations: { a: 'b' } }), `${DIR}/web.yaml`)).not.toBe(base);
    expect(configHash(manifest(), `${DIR}/other.yaml`)).not.toBe(base);
  });

  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null, u: undefined })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});

describe('a static pod made from its file', () => {
  const seen = new Date('2026-01-02T03:04:05.678Z');
  const m = staticManifest(manifest({ annotations: { mine: 'kept' } }), DIR, `${DIR}/web.yaml`, seen);
  const hash = configHash(manifest({ annotations: { mine: 'kept' } }), `${DIR}/web.yaml`);

  it('is named, identified and annotated as the kubelet does, and says which directory keeps it', () => {
    expect(m.pod.metadata.name).toBe('web-podbox');
    expect(m.pod.metadata.uid).toBe(hash);
    expect(m.pod.metadata.annotations).toEqual({
      mine: 'kept',
      'kubernetes.io/config.source': 'file',
      'kubernetes.io/config.hash': hash,
      'kubernetes.io/config.mirror': hash,
      'kubernetes.io/config.seen': '2026-01-02T03:04:05.678Z',
      'podbox.dev/static-pod-path': DIR,
      'podbox.dev/static-pod-file': 'web.yaml',
    });
    expect((m.original as { metadata: { ownerReferences: unknown } }).metadata.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Node', name: 'podbox', controller: true },
    ]);
    expect(staticSourceOf(m.pod)).toEqual({ dir: DIR, file: 'web.yaml', hash });
  });

  it('is not static when made by `podbox run`', () => {
    expect(staticSourceOf(manifest().pod)).toBeUndefined();
  });

  it('needs a name (generateName alone is refused, as the kubelet refuses it)', () => {
    const m2 = parseManifest(
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'w-' }, spec: app }),
      't',
    );
    expect(() => staticManifest(m2, DIR, `${DIR}/w.yaml`, seen)).toThrow(
      `${DIR}/w.yaml: a static pod needs metadata.name`,
    );
  });

  it('refuses a name too long once suffixed', () => {
    const long = 'a'.repeat(250);
    expect(() => staticManifest(manifest({}, app), DIR, `${DIR}/w.yaml`, seen)).not.toThrow();
    expect(() => staticManifest(parseManifest(pod(long, app), 't'), DIR, `${DIR}/w.yaml`, seen)).toThrow(
      /static pod name "a+-podbox" must be no more than 253 characters/,
    );
  });
});

describe('reconcile: the pods made equal to the files', () => {
  const ok = (file: string, name: string, hash: string): SourceFile =>
    ({ file, name, hash, manifest: undefined as never }) as SourceFile;
  const ours = (name: string, file: string, hash: string, lost = false): ObservedPod => ({
    name,
    source: { dir: DIR, file, hash },
    lost,
  });
  const none = new Map<string, string>();

  it("creates a new file's pod, keeps an unchanged one, replaces a changed one, deletes a removed one", () => {
    const files = [ok('a.yaml', 'a-podbox', 'h1'), ok('b.yaml', 'b-podbox', 'h2'), ok('c.yaml', 'c-podbox', 'new')];
    const pods = [
      ours('b-podbox', 'b.yaml', 'h2'),
      ours('c-podbox', 'c.yaml', 'old'),
      ours('d-podbox', 'd.yaml', 'h4'),
    ];
    expect(plan(DIR, files, pods, none)).toEqual([
      { type: 'create', file: 'a.yaml', name: 'a-podbox' },
      { type: 'replace', file: 'c.yaml', name: 'c-podbox', why: 'changed' },
      { type: 'delete', name: 'd-podbox', why: 'file removed' },
    ]);
  });

  it('makes a lost pod again', () => {
    expect(plan(DIR, [ok('a.yaml', 'a-podbox', 'h')], [ours('a-podbox', 'a.yaml', 'h', true)], none)).toEqual([
      { type: 'replace', file: 'a.yaml', name: 'a-podbox', why: 'lost' },
    ]);
  });

  it("keeps a broken file's last pod running and reports the file; a broken new file is reported alone", () => {
    const files: SourceFile[] = [
      { file: 'a.yaml', problem: 'a.yaml: bad' },
      { file: 'b.yaml', problem: 'b.yaml: bad' },
    ];
    expect(plan(DIR, files, [ours('a-podbox', 'a.yaml', 'h')], none)).toEqual([
      { type: 'problem', file: 'a.yaml', problem: 'a.yaml: bad', pod: 'a-podbox' },
      { type: 'problem', file: 'b.yaml', problem: 'b.yaml: bad', pod: undefined },
    ]);
  });

  it('deletes the old pod when a file is renamed inside (another metadata.name)', () => {
    expect(plan(DIR, [ok('a.yaml', 'x-podbox', 'h2')], [ours('a-podbox', 'a.yaml', 'h')], none)).toEqual([
      { type: 'create', file: 'a.yaml', name: 'x-podbox' },
      { type: 'delete', name: 'a-podbox', why: 'its file names another pod now' },
    ]);
  });

  it("leaves alone a pod of the name that another directory or `podbox run` made, and others' pods", () => {
    const other: ObservedPod = {
      name: 'b-podbox',
      source: { dir: '/elsewhere', file: 'b.yaml', hash: 'h' },
      lost: false,
    };
    const run: ObservedPod = { name: 'a-podbox', lost: false };
    const unrelated: ObservedPod = { name: 'mine', lost: true };
    expect(
      plan(DIR, [ok('a.yaml', 'a-podbox', 'h'), ok('b.yaml', 'b-podbox', 'h')], [run, other, unrelated], none),
    ).toEqual([
      { type: 'conflict', file: 'a.yaml', name: 'a-podbox', owner: '`podbox run`' },
      { type: 'conflict', file: 'b.yaml', name: 'b-podbox', owner: 'podbox serve /elsewhere' },
    ]);
  });

  it('does not make a pod `delete --force` held, until its file changes', () => {
    const held = new Map([['a-podbox', 'h']]);
    expect(plan(DIR, [ok('a.yaml', 'a-podbox', 'h')], [], held)).toEqual([]);
    expect(plan(DIR, [ok('a.yaml', 'a-podbox', 'h2')], [], held)).toEqual([
      { type: 'release', name: 'a-podbox' },
      { type: 'create', file: 'a.yaml', name: 'a-podbox' },
    ]);
  });
});

describe('reading the directory', () => {
  const seen = new Date('2026-01-02T03:04:05Z');
  const spec = { containers: [{ name: 'app', image: 'localhost/busybox:test' }] };

  it('reads the manifests in name order, each on its own: a broken one or a second of one pod is a problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'static-pods-'));
    try {
      writeFileSync(join(dir, 'b.yaml'), pod('web', spec));
      writeFileSync(join(dir, 'a.json'), pod('api', spec));
      writeFileSync(join(dir, 'c.yml'), pod('web', spec));
      writeFileSync(join(dir, 'd.yaml'), 'kind: Pod\nspec: [\n');
      writeFileSync(join(dir, '.e.yaml'), pod('hidden', spec));
      writeFileSync(join(dir, 'f.yaml~'), pod('backup', spec));
      mkdirSync(join(dir, 'g.yaml'));
      expect(manifestFiles(dir)).toEqual(['a.json', 'b.yaml', 'c.yml', 'd.yaml']);
      const read = readSource(dir, seen).map((f) =>
        'manifest' in f ? { file: f.file, name: f.name, hash: f.hash } : { file: f.file, problem: f.problem },
      );
      expect(read).toEqual([
        { file: 'a.json', name: 'api-podbox', hash: configHash(parseManifest(pod('api', spec), 't'), `${dir}/a.json`) },
        { file: 'b.yaml', name: 'web-podbox', hash: configHash(parseManifest(pod('web', spec), 't'), `${dir}/b.yaml`) },
        { file: 'c.yml', problem: `${dir}/c.yml: names pod "web-podbox", as b.yaml does: ignored` },
        {
          file: 'd.yaml',
          problem:
            `${dir}/d.yaml: line 3, column 1: Flow sequence in block collection must be sufficiently indented ` +
            'and end with a ]: fix the YAML',
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
