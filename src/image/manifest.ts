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

/**
 * The most bytes a manifest or index may have; containerd refuses larger ones too
 * (core/images/image.go MaxManifestSize). Read before parsing, so a hostile registry costs no memory.
 */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** The most bytes an image config may have: a config is a few kB; podbox reads it whole. */
export const MAX_CONFIG_BYTES = 8 << 20;

/**
 * What podbox keeps blobs by: `sha256:` and 64 lowercase hex digits, nothing else. A digest names
 * a file of the store (blob-cache.ts), so anything looser (`sha256:../../x`, upper case) is refused
 * before a path is made of it; other algorithms go-digest knows (sha384, sha512) are refused as
 * podbox's store and image ids are sha256 only, as containerd's default content store.
 */
const STORE_DIGEST = /^sha256:[a-f0-9]{64}$/;

function descriptor(x: unknown, where: string, bad: (why: string) => PodboxError): Descriptor {
  const d = x as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || typeof d.size !== 'number')
    throw bad(`${where} is not a descriptor with a digest and a size`);
  // Sizes are int64 in the image spec; a JavaScript number is exact up to 2^53 (8 PiB), far above any layer.
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw bad(`${where} has an invalid size ${String(d.size)}`);
  const err = digestError(d.digest);
  if (err) throw bad(`${where} has an invalid digest ${JSON.stringify(d.digest)} (${err})`);
  if (!STORE_DIGEST.test(d.digest))
    throw bad(`${where} has the digest ${JSON.stringify(d.digest)}, and podbox only pulls sha256 content`);
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
    const manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`, bad));
    const big = manifests.findIndex((m) => m.size > MAX_MANIFEST_BYTES);
    if (big >= 0)
      throw bad(`manifests[${big}] is ${manifests[big]!.size} bytes, more than a manifest may have (4 MiB)`);
    return { kind: 'index', manifests };
  }
  if (MANIFEST_TYPES.includes(type)) {
    if (!Array.isArray(doc.layers)) throw bad('the manifest has no layers');
    const config = descriptor(doc.config, 'config', bad);
    if (config.size > MAX_CONFIG_BYTES)
      throw bad(`its config is ${config.size} bytes, more than an image config may have (8 MiB)`);
    return { kind: 'manifest', config, layers: doc.layers.map((l, i) => descriptor(l, `layers[${i}]`, bad)) };
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
