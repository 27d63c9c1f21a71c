import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { check, manifestFrom, parseDocuments, type ManifestDocument } from '../api/manifest.js';
import { readManifestFile } from '../api/manifest-file.js';
import * as schema from '../api/schema.js';
import type { Manifest } from '../api/types.js';
import { PodboxError } from '../errors.js';
import { applyRank, loadKind, workloadKindOf } from './kinds.js';
import type { WorkloadContext, WorkloadKind, WorkloadObject } from './object.js';

/**
 * What `podbox run FILE` or `run -f DIR` makes when the files hold workloads (kinds.ts): every
 * document validated first (nothing is made when one is wrong), then made in apply order
 * (kinds.ts APPLY_ORDER): the ConfigMaps, Secrets and PersistentVolumeClaims go with the pods that
 * use them, then the Pods, then the workloads.
 */
export interface Plan {
  context: WorkloadContext;
  pods: Manifest[];
  workloads: { kind: WorkloadKind; object: WorkloadObject }[];
}

/** A file's documents, named as errors name the file. */
export interface Source {
  where: string;
  docs: ManifestDocument[];
}

/** The manifest files of `run -f PATH`: PATH itself, or the *.yaml, *.yml and *.json files of a directory, by name. */
export function readSources(path: string): Source[] {
  let files = [path];
  if (path !== '-' && isDirectory(path)) {
    // kubectl's FilenameOptions visits a directory's files in lexical order, with these extensions.
    files = readdirSync(path)
      .filter((n) => /\.(ya?ml|json)$/.test(n) && !n.startsWith('.'))
      .sort()
      .map((n) => join(path, n));
    if (files.length === 0)
      throw new PodboxError(
        'InvalidArgument',
        `${path}: holds no manifest (*.yaml, *.yml, *.json)`,
        'give a directory of manifests, or a file',
      );
  }
  return files.map((f) => {
    const where = f === '-' ? 'stdin' : f;
    return { where, docs: parseDocuments(readManifestFile(f), where) };
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const kindOf = (v: unknown) => (v as { kind?: unknown } | null)?.kind;
const apiVersionOf = (v: unknown) => (v as { apiVersion?: unknown } | null)?.apiVersion;

/** Does any document hold a workload (so the file is not a plain pod manifest)? */
export function holdsWorkloads(sources: readonly Source[]): boolean {
  return sources.some((s) => s.docs.some((d) => workloadKindOf(apiVersionOf(d.value), kindOf(d.value))));
}

const CONTEXT_KINDS = new Set(['ConfigMap', 'Secret', 'PersistentVolumeClaim']);

/** Every document validated, in apply order; throws the first problem, naming its file. */
export async function planOf(sources: readonly Source[]): Promise<Plan> {
  const context: WorkloadContext = { configMaps: new Map(), secrets: new Map(), claims: new Map() };
  const contextDocs: ManifestDocument[] = [];
  // The objects others refer to, from every file, first.
  for (const { where, docs } of sources) {
    for (const d of docs) {
      const v = d.value;
      if (apiVersionOf(v) !== 'v1' || !CONTEXT_KINDS.has(String(kindOf(v)))) continue;
      const name = String((v as { metadata?: { name?: unknown } }).metadata?.name ?? '');
      contextDocs.push(d);
      if (kindOf(v) === 'ConfigMap')
        context.configMaps.set(name, check(schema.configMap, v, where, `configmap "${name}"`));
      else if (kindOf(v) === 'Secret') context.secrets.set(name, check(schema.secret, v, where, `secret "${name}"`));
      else context.claims.set(name, check(schema.persistentVolumeClaim, v, where, `persistentvolumeclaim "${name}"`));
    }
  }
  const pods: Manifest[] = [];
  const workloads: Plan['workloads'] = [];
  for (const { where, docs } of sources) {
    for (const d of docs) {
      const v = d.value;
      const kind = kindOf(v);
      if (apiVersionOf(v) === 'v1' && CONTEXT_KINDS.has(String(kind))) continue;
      const entry = workloadKindOf(apiVersionOf(v), kind);
      if (entry) {
        const workload = await loadKind(entry);
        workloads.push({ kind: workload, object: workload.parse(v, where, context) });
      }
      // A Pod (or anything else, which manifestFrom refuses by name) with what it may use.
      else pods.push(manifestFrom([d, ...contextDocs], where));
    }
  }
  workloads.sort((a, b) => applyRank(a.kind.kind) - applyRank(b.kind.kind));
  return { context, pods, workloads };
}
