import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { NODE_NAME } from '../api/node.js';
import { dnsSubdomain } from '../api/schema.js';
import { PodboxError } from '../errors.js';
import type { Manifest, Pod } from '../api/types.js';

/**
 * A static pod: a Pod manifest in a directory `podbox serve DIR` keeps running, made from its file
 * as the kubelet's file source makes one (pkg/kubelet/config/file.go, common.go applyDefaults).
 * Pure: the file's text is read and parsed by the caller (static/file-source.ts).
 */

/** The annotations the kubelet sets on a static pod (pkg/kubelet/types/pod_update.go). */
export const CONFIG_SOURCE = 'kubernetes.io/config.source';
export const CONFIG_HASH = 'kubernetes.io/config.hash';
export const CONFIG_MIRROR = 'kubernetes.io/config.mirror';
export const CONFIG_SEEN = 'kubernetes.io/config.seen';
/** podbox's own: the directory `podbox serve` keeps the pod for (the kubelet's staticPodPath), and the file. */
export const STATIC_POD_PATH = 'podbox.dev/static-pod-path';
export const STATIC_POD_FILE = 'podbox.dev/static-pod-file';

/**
 * Is this directory entry a manifest? The kubelet reads every entry but dotfiles (file.go
 * extractFromDir globs "[^.]*", so an editor's `.web.yaml.swp` is skipped) and does not recurse into
 * directories; podbox reads only `*.yaml`, `*.yml` and `*.json` of those, so a `web.yaml~` backup or a
 * README beside the manifests is neither a pod nor a parse error.
 */
export function isManifestName(name: string): boolean {
  return !name.startsWith('.') && /\.(ya?ml|json)$/.test(name);
}

/** common.go generatePodName: NAME-NODENAME, the node name in lower case (here NODE_NAME). */
export function staticPodName(name: string): string {
  return `${name}-${NODE_NAME.toLowerCase()}`;
}

/**
 * The pod's config hash. The kubelet's (common.go applyDefaults) is an md5 of "host:NODE", "file:PATH"
 * and a deep hash of the whole decoded pod, labels and annotations included: so any change to the
 * object, or moving it to another file, makes another pod (another UID), which the kubelet puts in
 * place of the old one. podbox hashes the same three things, the objects as JSON with sorted keys
 * (Go's deep hash of a struct cannot be reproduced, and needs not be: no one else computes it),
 * with the ConfigMaps, Secrets and claims of the file, which the pod is made from too.
 */
export function configHash(manifest: Manifest, file: string): string {
  const h = createHash('md5');
  h.update(`host:${NODE_NAME}`);
  h.update(`file:${file}`);
  h.update(
    canonicalJson([
      manifest.original,
      [...manifest.configMaps.values()],
      [...manifest.secrets.values()],
      [...(manifest.claims?.values() ?? [])],
    ]),
  );
  return h.digest('hex');
}

/** JSON with every object's keys sorted: the same object gives the same text however it was written. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Where a static pod comes from, as its annotations say. */
export interface StaticSource {
  /** the directory served (absolute) */
  dir: string;
  /** the manifest's file name in it */
  file: string;
  hash: string;
}

/** The static source of a pod, or undefined for a pod `podbox run` made. */
export function staticSourceOf(pod: Pod): StaticSource | undefined {
  const a = pod.metadata.annotations ?? {};
  const dir = a[STATIC_POD_PATH];
  const hash = a[CONFIG_HASH];
  if (a[CONFIG_SOURCE] !== 'file' || !dir || !hash) return undefined;
  return { dir, file: a[STATIC_POD_FILE] ?? '', hash };
}

/**
 * The pod of manifest file `path` (absolute, in `dir`) as the kubelet makes a static pod
 * (common.go applyDefaults): named NAME-NODENAME, its UID the config hash, annotated with its
 * source and hash; the mirror annotation is the one the kubelet's mirror pod carries in the API
 * server (mirror_client.go CreateMirrorPod), which is what `get -o yaml` shows here; and owned by
 * the node, as a mirror pod is, so `describe` says "Controlled By: Node/NODE". A name the kubelet
 * would refuse after the suffix (too long) is refused naming the file.
 */
export function staticManifest(manifest: Manifest, dir: string, path: string, seen: Date): Manifest {
  const given = manifest.original as { metadata?: { name?: unknown } };
  if (typeof given.metadata?.name !== 'string' || !given.metadata.name) {
    // applyDefaults would name it "-NODE", which validation refuses: the kubelet needs a name too.
    throw new PodboxError('InvalidManifest', `${path}: a static pod needs metadata.name`, 'set metadata.name');
  }
  const name = staticPodName(manifest.pod.metadata.name);
  const ok = dnsSubdomain.safeParse(name);
  if (!ok.success) {
    throw new PodboxError(
      'InvalidManifest',
      `${path}: pod "${manifest.pod.metadata.name}" is invalid: its static pod name "${name}" ${ok.error.issues[0]!.message}`,
      'shorten metadata.name',
    );
  }
  const hash = configHash(manifest, path);
  const annotations = {
    [CONFIG_SOURCE]: 'file',
    [CONFIG_HASH]: hash,
    [CONFIG_MIRROR]: hash,
    [CONFIG_SEEN]: seen.toISOString(),
    [STATIC_POD_PATH]: dir,
    [STATIC_POD_FILE]: basename(path),
  };
  const owner = { apiVersion: 'v1', kind: 'Node', name: NODE_NAME, controller: true };
  const original = manifest.original as { metadata?: Record<string, unknown> };
  const originalMeta = original.metadata ?? {};
  return {
    ...manifest,
    pod: {
      ...manifest.pod,
      metadata: {
        ...manifest.pod.metadata,
        name,
        uid: hash,
        annotations: { ...manifest.pod.metadata.annotations, ...annotations },
      },
    },
    original: {
      ...original,
      metadata: {
        ...originalMeta,
        name,
        uid: hash,
        annotations: { ...(originalMeta.annotations as Record<string, string> | undefined), ...annotations },
        ownerReferences: [owner],
      },
    },
  };
}
