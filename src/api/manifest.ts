import { randomUUID, randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { DocumentOptions, ParseOptions, SchemaOptions, ScalarTag, Tags } from 'yaml';
import type { z } from 'zod';
import { PodboxError } from '../errors.js';
import type { ConfigMap, Container, DecodedPod, Manifest, PersistentVolumeClaim, Pod, Secret } from './types.js';
import * as schema from './schema.js';
import { crossChecks, type Problem } from './validation.js';
import { UNSUPPORTED, API_MESSAGE } from './schema.js';

/**
 * `podbox run FILE`'s input: YAML or JSON, one or more documents, exactly one v1 Pod plus the
 * v1 ConfigMaps, Secrets and PersistentVolumeClaims it uses. Returns the pod validated and defaulted as the API server
 * would store it, or throws one PodboxError naming the file, the object and the field.
 */
export function parseManifest(text: string, source: string): Manifest {
  const where = source === '-' ? 'stdin' : source;
  return manifestFrom(parseDocuments(text, where), where);
}

/** A document of a manifest file: its value, and where it is in the file (0-based). */
export interface ManifestDocument {
  value: unknown;
  index: number;
}

/** The documents of a manifest's text, parsed as the API server reads YAML and JSON (empty ones left out). */
export function parseDocuments(text: string, where: string): ManifestDocument[] {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) throw manifestTooLarge(where);
  const docs = parseAllDocuments(text, { prettyErrors: true, ...apiServerYaml(text) });
  if (!Array.isArray(docs)) throw invalid(where, 'is empty', 'give a v1 Pod manifest');
  const objects: ManifestDocument[] = [];
  docs.forEach((d, index) => {
    const err = d.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const what = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, '');
      throw invalid(where, `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${what}`, 'fix the YAML');
    }
    const value = toJS(d, where);
    if (value !== null && value !== undefined) objects.push({ value, index });
  });
  return objects;
}

/** The pod of a file's documents, with the ConfigMaps, Secrets and PersistentVolumeClaims it uses. */
export function manifestFrom(objects: readonly ManifestDocument[], where: string): Manifest {
  let podObject: unknown;
  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  const claims = new Map<string, PersistentVolumeClaim>();
  for (const { value, index } of objects) {
    const doc = objects.length > 1 ? ` (document ${index + 1})` : '';
    if (typeof value !== 'object' || Array.isArray(value))
      throw invalid(where, `document ${index + 1} is not an object`, 'give a v1 Pod manifest');
    const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
    const name = nameOf(value);
    if (kind === 'Pod' || kind === undefined) {
      if (podObject !== undefined)
        throw invalid(where, `holds more than one Pod${doc}`, 'podbox runs one pod per file: split them into files');
      podObject = value;
    } else if (kind === 'ConfigMap' && apiVersion === 'v1') {
      configMaps.set(String(name), check(schema.configMap, value, where, `configmap "${name}"`) as ConfigMap);
    } else if (kind === 'Secret' && apiVersion === 'v1') {
      secrets.set(String(name), check(schema.secret, value, where, `secret "${name}"`) as Secret);
    } else if (kind === 'PersistentVolumeClaim' && apiVersion === 'v1') {
      claims.set(String(name), check(schema.persistentVolumeClaim, value, where, `persistentvolumeclaim "${name}"`));
    } else {
      throw invalid(
        where,
        `${String(apiVersion ?? '?')}/${String(kind)} "${name}"${doc} is not something podbox runs`,
        'give one v1 Pod, with the v1 ConfigMaps, Secrets and PersistentVolumeClaims it uses',
      );
    }
  }
  if (podObject === undefined)
    throw invalid(where, 'holds no Pod', 'give a manifest with kind: Pod and apiVersion: v1');

  const podLabel = `pod "${nameOf(podObject)}"`;
  const pod = withDefaults(check(schema.pod, podObject, where, podLabel));
  const label = `pod "${pod.metadata.name}"`;
  const manifest: Manifest = { pod, original: withoutStatus(podObject), configMaps, secrets, claims };
  for (const problem of crossChecks(manifest)) throw fieldError(where, label, problem);
  return manifest;
}

/**
 * The API server refuses a request body over 3 MiB (k8s.io/apiserver pkg/server/config.go
 * MaxRequestBodyBytes) before decoding it; podbox refuses a manifest over the same size before parsing.
 */
export const MAX_MANIFEST_BYTES = 3 * 1024 * 1024;

export function manifestTooLarge(where: string): PodboxError {
  return new PodboxError(
    'InvalidManifest',
    `${where}: is larger than 3 MiB (${MAX_MANIFEST_BYTES} bytes), the API server's limit`,
    'make it smaller: large data belongs in an image or a volume, not in the manifest',
  );
}

/**
 * A document as plain values. yaml's maxAliasCount stops a document whose aliases expand without
 * bound (a "billion laughs"); that is bad input, so it is reported as such, naming the file.
 */
function toJS(d: ReturnType<typeof parseAllDocuments>[number] & { toJS: unknown }, where: string): unknown {
  try {
    return d.toJS({ maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof ReferenceError && e.message.startsWith('Excessive alias count')) {
      throw invalid(
        where,
        'expands its YAML aliases too far (over 100 aliased nodes, as a "billion laughs" does)',
        'write the values out, or use fewer aliases (*name)',
      );
    }
    throw e;
  }
}

/**
 * Scalars read as the API server reads them. kubectl sends a file that starts with `{` as JSON
 * (apimachinery yaml.YAMLOrJSONDecoder sniffs it), and JSON is YAML 1.2 core. Anything else goes
 * through sigs.k8s.io/yaml, which is go-yaml v2, which is YAML 1.1 (goyaml.v2 resolve.go resolve):
 * `0400` is octal 256, `yes`/`on`/`y` are true and `no`/`off`/`n` false, `<<` merges. go-yaml v2
 * leaves two 1.1 forms as strings, so they are dropped here too: timestamps (it keeps them strings
 * when decoding into interface{}, decode.go scalar) and base-60 numbers (`1:20`, never supported).
 * It reads integers with Go's strconv.ParseInt(s, 0, 64), which also takes `0o400` and upper-case
 * prefixes (`0X1F`, `0B1`, `0O400`): one extra tag reads those.
 */
function apiServerYaml(text: string): ParseOptions & DocumentOptions & SchemaOptions {
  if (text.trimStart().startsWith('{')) return { version: '1.2', schema: 'core' };
  const goYamlV2 = (t: Tags[number]) =>
    typeof t === 'string' || (t.format !== 'TIME' && t.tag !== 'tag:yaml.org,2002:timestamp');
  return { version: '1.1', customTags: (tags) => [...tags.filter(goYamlV2), GO_PREFIXED_INT] };
}

/** `0o400`, `0X1F`, `0B101`, `0O400` (underscores allowed), as Go's strconv.ParseInt(s, 0, 64) reads them. */
const GO_PREFIXED_INT: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^[-+]?0(?:[oO][0-7_]+|X[0-9a-fA-F_]+|B[01_]+)$/,
  resolve: (s: string) => {
    const n = Number(s.replace(/^[-+]/, '').replace(/_/g, '').toLowerCase());
    return s.startsWith('-') ? -n : n;
  },
};

/**
 * `value` decoded by schema `s`, or the one PodboxError the API server's first complaint makes, naming
 * `where` and `label` (`pod "web"`, `deployment "web"`); `explain` is the kind `kubectl explain` lists the
 * fields of, by default the label's first word.
 */
export function check<T extends z.ZodType>(
  s: T,
  value: unknown,
  where: string,
  label: string,
  explain = label.split(' ')[0]!,
): z.output<T> {
  const r = s.safeParse(value);
  if (r.success) return r.data;
  // A typo is the likeliest cause of any other complaint, so unknown fields are reported first.
  const rank = (i: z.ZodIssue) =>
    i.code === 'unrecognized_keys'
      ? 0
      : i.code === 'custom' && (i.params as Record<string, unknown> | undefined)?.[UNSUPPORTED]
        ? 1
        : 2;
  const issue = [...r.error.issues].sort((a, b) => rank(a) - rank(b))[0]!;
  const more =
    r.error.issues.length > 1
      ? ` (and ${r.error.issues.length - 1} more problem${r.error.issues.length > 2 ? 's' : ''})`
      : '';
  let problem: Problem;
  if (issue.code === 'unrecognized_keys') {
    const path = fieldPath([...issue.path, issue.keys[0]!]);
    problem = {
      path,
      message: 'unknown field',
      hint: `remove it or fix its spelling (\`kubectl explain ${explain}.${kindPath(issue.path)}\` lists the fields)`,
    };
  } else if (issue.code === 'custom' && (issue.params as Record<string, unknown> | undefined)?.[UNSUPPORTED]) {
    problem = { path: fieldPath(issue.path), message: issue.message, unsupported: true };
  } else if (issue.code === 'custom' && (issue.params as Record<string, unknown> | undefined)?.[API_MESSAGE]) {
    const hint = String((issue.params as Record<string, unknown>).hint);
    problem = { path: fieldPath(issue.path), message: issue.message, hint };
  } else {
    const input = valueAt(value, issue.path);
    const missing = issue.code === 'invalid_type' && input === undefined;
    const path = fieldPath(issue.path);
    if (issue.code === 'invalid_enum_value' || issue.code === 'invalid_literal') {
      // The API server's wording for an enum: Unsupported value: "X": supported values: "A", "B"
      const values = (issue.code === 'invalid_enum_value' ? issue.options : [issue.expected])
        .map((v) => JSON.stringify(v))
        .join(', ');
      throw fieldError(
        where,
        label,
        { path, message: `Unsupported value${shown(input)}: supported values: ${values}` },
        more,
      );
    }
    // zod's own wording starts with a capital ("Expected array, received string"); ours does not.
    const what = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
    problem = {
      path,
      message: missing ? 'Required value' : `Invalid value${shown(input)}: ${what}`,
      hint: missing ? `set ${path.split('.').pop()}` : undefined,
    };
  }
  throw fieldError(where, label, problem, more);
}

export function fieldError(where: string, label: string, p: Problem, more = ''): PodboxError {
  if (p.unsupported) return new PodboxError('UnsupportedField', `${where}: ${label}: ${p.path}: ${p.message}${more}`);
  return new PodboxError('InvalidManifest', `${where}: ${label} is invalid: ${p.path}: ${p.message}${more}`, p.hint);
}

function invalid(where: string, what: string, hint: string): PodboxError {
  return new PodboxError('InvalidManifest', `${where}: ${what}`, hint);
}

/** ["spec","containers",0,"image"] → "spec.containers[0].image", as the API server writes paths. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

/** The `kubectl explain` path of an object: indices dropped. */
function kindPath(path: readonly PropertyKey[]): string {
  return (
    path
      .filter((p) => typeof p !== 'number')
      .map(String)
      .join('.') || ''
  );
}

/** The value at a zod issue's path in what the user wrote. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function shown(v: unknown): string {
  if (typeof v === 'string') return ` "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return ` ${v}`;
  return '';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function nameOf(o: unknown): string {
  const m = (o as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  return String(m?.name ?? m?.generateName ?? '');
}

function withoutStatus(o: unknown): unknown {
  const { status: _status, ...rest } = o as Record<string, unknown>;
  return rest;
}

/** Defaults that depend on other fields (defaults.go) and what the API server fills in on create. */
export function withDefaults(decoded: DecodedPod): Pod {
  const { status: _status, ...p } = decoded;
  let name = p.metadata.name;
  if (!name) {
    // names.SimpleNameGenerator: generateName + 5 random alphanumerics.
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    name = (p.metadata.generateName ?? '') + [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
  }
  const withPolicy = (c: DecodedPod['spec']['containers'][number]): Container => ({
    ...c,
    imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image),
    // SetDefaults_Pod (pkg/apis/core/v1/defaults.go): on the host's network a port is the host's port.
    ...(p.spec.hostNetwork && c.ports
      ? { ports: c.ports.map((port) => ({ ...port, hostPort: port.hostPort ?? port.containerPort })) }
      : {}),
  });
  const { containers, initContainers, ...rest } = p.spec;
  const spec: Pod['spec'] = { ...rest, containers: containers.map(withPolicy) };
  if (initContainers) spec.initContainers = initContainers.map(withPolicy);
  // SetDefaults_ImageVolumeSource: an image volume's pullPolicy defaults as a container's does.
  if (spec.volumes?.some((v) => v.image))
    spec.volumes = spec.volumes.map((v) =>
      v.image
        ? { ...v, image: { ...v.image, pullPolicy: v.image.pullPolicy ?? defaultPullPolicy(v.image.reference) } }
        : v,
    );
  return { ...p, metadata: { ...p.metadata, name, uid: p.metadata.uid ?? randomUUID() }, spec };
}

/**
 * SetDefaults_Container: `Always` when the image has no tag or the tag is `latest` (and no
 * digest), `IfNotPresent` otherwise.
 */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  const tag = colon < 0 ? '' : lastPart.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}
