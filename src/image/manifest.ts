import { PodboxError } from '../errors.js';
import { digestError } from './reference.js';
import type { Platform } from './platform.js';

/**
 * Registry manifests (OCI image-spec manifest.md and image-index.md, Docker's manifest v2 schema 2
 * and manifest list): what `Accept` asks for, and the documents read into one shape. Schema 1 (the
 * signed manifests of registries before 2016) is refused: containerd and Docker 28 refuse it too.
 */
export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The `Accept` header of a manifest request: what podbox can pull, preferred first. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: Platform;
}

export type ParsedManifest =
  { kind: 'index'; manifests: Descriptor[] } | { kind: 'manifest'; config: Descriptor; layers: Descriptor[] };

const INDEX_TYPES: string[] = [MEDIA.ociIndex, MEDIA.dockerList];
const MANIFEST_TYPES: string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];

/**
 * The media type of a manifest: the response's Content-Type unless it is generic, else the
 * document's own `mediaType`, else its shape (an OCI document may omit mediaType).
 */
export function manifestMediaType(contentType: string | undefined, doc: Record<string, unknown>): string {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct && ct !== 'application/json' && ct !== 'text/plain' && ct !== 'application/octet-stream') return ct;
  if (typeof doc.mediaType === 'string') return doc.mediaType;
  if (doc.schemaVersion === 1) return MEDIA.dockerSchema1;
  if (Array.isArray(doc.manifests)) return MEDIA.ociIndex;
  return MEDIA.ociManifest;
}

function descriptor(x: unknown, where: string, bad: (why: string) => PodboxError): Descriptor {
  const d = x as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || typeof d.size !== 'number' || d.size < 0)
    throw bad(`${where} is not a descriptor with a digest and a size`);
  const err = digestError(d.digest);
  if (err) throw bad(`${where} has an invalid digest ${JSON.stringify(d.digest)} (${err})`);
  const out: Descriptor = {
    mediaType: typeof d.mediaType === 'string' ? d.mediaType : '',
    digest: d.digest,
    size: d.size,
  };
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (d.platform && typeof d.platform === 'object') out.platform = d.platform;
  return out;
}

/**
 * Reads a manifest document. `what` names it in errors (the image and registry). Throws
 * ImagePullFailed for what podbox cannot pull: schema 1, unknown media types, bad JSON.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  const bad = (why: string) =>
    new PodboxError('ImagePullFailed', `${what}: ${why}`, 'the registry served a manifest podbox cannot read');
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad('the manifest is not valid JSON');
  }
  if (!doc || typeof doc !== 'object') throw bad('the manifest is not a JSON object');
  const type = manifestMediaType(contentType, doc);
  if (type === MEDIA.dockerSchema1 || type === MEDIA.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw new PodboxError(
      'ImagePullFailed',
      `${what}: the image has a Docker schema 1 manifest, which podbox does not pull`,
      'push the image again with a current Docker, podman or skopeo (they write schema 2 or OCI manifests)',
    );
  }
  if (INDEX_TYPES.includes(type)) {
    if (!Array.isArray(doc.manifests)) throw bad('the image index has no manifests');
    return { kind: 'index', manifests: doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`, bad)) };
  }
  if (MANIFEST_TYPES.includes(type)) {
    if (!Array.isArray(doc.layers)) throw bad('the manifest has no layers');
    return {
      kind: 'manifest',
      config: descriptor(doc.config, 'config', bad),
      layers: doc.layers.map((l, i) => descriptor(l, `layers[${i}]`, bad)),
    };
  }
  throw bad(`the manifest has media type ${type}, which is not an image`);
}

/**
 * Foreign (Windows base) and non-distributable layers may name where else they are kept; OCI
 * image-spec descriptor.md: `urls` are followed only for these, and only http(s).
 */
export function foreignUrls(d: Descriptor): string[] {
  if (!/(foreign|nondistributable)/.test(d.mediaType)) return [];
  return (d.urls ?? []).filter((u) => /^https?:\/\//.test(u));
}
