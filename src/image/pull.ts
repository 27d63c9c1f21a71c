import { createHash } from 'node:crypto';
import { PodboxError, errnoOf } from '../errors.js';
import { BODY_TOO_LARGE, RegistryClient, isTransientError, readBody } from '../registry/client.js';
import type { DockerConfigJson } from '../registry/credentials.js';
import { BlobCache } from './blob-cache.js';
import { diskFullError } from './disk-full.js';
import { MANIFEST_ACCEPT, foreignUrls, parseManifest, type Descriptor, type ParsedManifest } from './manifest.js';
import { choosePlatform, formatPlatform, hostPlatform, parsePlatform } from './platform.js';
import { familiarReference, formatReference, parseReference, repositoryOf } from './reference.js';
import { ImageStore, type StoredImage } from './store.js';

/**
 * `podbox image pull` and the pulls of `podbox run`: an image from an OCI Distribution registry
 * into the store, as containerd's client.Pull does it:
 *  1. a digest reference already present: done, nothing asked
 *  2. resolve: the manifest for the tag or digest (checked against the digest), and from an index
 *     the manifest of the platform wanted (platform.ts)
 *  3. the image (its config digest is its id) already present: give it the names, done
 *  4. the config blob, verified
 *  5. the layers: downloaded 3 at a time into the blob cache (blob-cache.ts, verified while
 *     streaming, kept once by digest), while the unpack worker applies them in order as they
 *     arrive (blob-follow.ts); the image appears only once every digest and diff id matched
 */
export interface PullOptions {
  /** `os/arch[/variant]`, default this host's */
  platform?: string;
  /** plain http allowed for this registry */
  insecure?: boolean;
  pullSecrets?: DockerConfigJson[];
  onProgress?: (e: PullProgress) => void;
  signal?: AbortSignal;
  /** one line per warning of the unpack (device nodes skipped…) */
  warn?: (line: string) => void;
}

export type PullProgress =
  | { kind: 'layer'; digest: string; done: number; total: number }
  | { kind: 'layer-done'; digest: string; total: number; cached: boolean }
  | { kind: 'resolved'; manifest: string; layers: number };

export interface PullResult {
  image: StoredImage;
  /** the image's size as containerd counts it (config and compressed layers): the kubelet's "Image size" */
  bytes: number;
}

/** Layers downloaded at once: Docker's max-concurrent-downloads default. */
const PARALLEL_DOWNLOADS = 3;

const digestOf = (b: Buffer, alg = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;
const algOf = (d: string) => d.slice(0, d.indexOf(':'));

function sizeOf(m: ParsedManifest & { kind: 'manifest' }): number {
  return m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
}

export async function pullImage(refString: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refString);
  const image = familiarReference(ref);
  const repo = repositoryOf(ref);
  const store = ImageStore.open();
  const tagRef =
    ref.tag !== undefined ? formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
  const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();

  // Step 1: a digest names its content for good.
  if (ref.digest && !opts.platform) {
    const img = store.resolve(`${repo}@${ref.digest}`);
    const manifest = img && store.pulledManifest(img.id);
    if (img && manifest) {
      const parsed = parseManifest(manifest, undefined, image);
      const named = store.addNames(img.id, tagRef ? [tagRef] : []);
      if (named && parsed.kind === 'manifest') return { image: named, bytes: sizeOf(parsed) };
    }
  }

  // Step 2: resolve.
  const ac = new AbortController();
  const onAbort = () => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const client = new RegistryClient(ref.domain, ref.path, image, {
      ...opts,
      digest: ref.digest !== undefined,
      signal: ac.signal,
    });
    const mismatch = (what: string, why: string) =>
      new PodboxError(
        'DigestMismatch',
        `cannot pull ${image} from ${client.host}: ${what} has ${why}`,
        'the registry or a proxy served other content than asked for; ' +
          'pull again, and tell the registry owner if it persists',
      );
    const top = await client.manifest(ref.digest ?? ref.tag!, MANIFEST_ACCEPT);
    const topDigest = digestOf(top.bytes, ref.digest ? algOf(ref.digest) : 'sha256');
    if (ref.digest && topDigest !== ref.digest) throw mismatch(`manifest ${ref.digest}`, `digest ${topDigest}`);
    let parsed = parseManifest(top.bytes, top.contentType, `cannot pull ${image} from ${client.host}`);
    let manifestBytes = top.bytes;
    if (parsed.kind === 'index') {
      const chosen = choosePlatform(parsed.manifests, want);
      if (!chosen) {
        const has = parsed.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
        throw new PodboxError(
          'ImageNotFound',
          `cannot pull ${image} from ${client.host}: it has no image for ${formatPlatform(want)}` +
            ` (it has ${has.join(', ') || 'no platforms'})`,
          'choose one of its platforms with --platform, or another image',
        );
      }
      const m = await client.manifest(chosen.digest, MANIFEST_ACCEPT);
      const got = digestOf(m.bytes, algOf(chosen.digest));
      if (got !== chosen.digest || m.bytes.length !== chosen.size)
        throw mismatch(`manifest ${chosen.digest}`, `digest ${got} (${m.bytes.length} bytes)`);
      parsed = parseManifest(m.bytes, m.contentType, `cannot pull ${image} from ${client.host}`);
      manifestBytes = m.bytes;
      if (parsed.kind === 'index')
        throw new PodboxError(
          'ImagePullFailed',
          `cannot pull ${image} from ${client.host}: its index for ${formatPlatform(want)} names another index`,
          'the registry served an image podbox cannot read',
        );
    }
    const manifest = parsed;
    opts.onProgress?.({ kind: 'resolved', manifest: topDigest, layers: manifest.layers.length });
    const refs = [...(tagRef ? [tagRef] : []), `${repo}@${topDigest}`];
    const bytes = sizeOf(manifest);

    // Step 3: present already.
    const present = store.addNames(manifest.config.digest, refs);
    if (present) {
      for (const l of manifest.layers)
        opts.onProgress?.({ kind: 'layer-done', digest: l.digest, total: l.size, cached: true });
      return { image: present, bytes };
    }

    // Step 4: the config.
    const configRes = await client.blob(manifest.config.digest, 0);
    const config = await readBody(configRes.body, manifest.config.size).catch((e) => {
      // At most the size the manifest gives (manifest.ts bounds it by MAX_CONFIG_BYTES).
      if (errnoOf(e) === BODY_TOO_LARGE)
        throw mismatch(
          `config ${manifest.config.digest}`,
          `more than the ${manifest.config.size} bytes its manifest says`,
        );
      throw client.blobStreamError(e);
    });
    const configDigest = digestOf(config, algOf(manifest.config.digest));
    if (configDigest !== manifest.config.digest || config.length !== manifest.config.size)
      throw mismatch(`config ${manifest.config.digest}`, `digest ${configDigest} (${config.length} bytes)`);

    // Step 5: the layers.
    const cache = new BlobCache(store.blobsDir);
    const layers = manifest.layers.map((l) => ({
      kind: 'blob' as const,
      file: cache.path(l.digest),
      partial: cache.partialPath(l.digest),
      size: l.size,
      name: l.digest,
    }));
    const fetchOne = async (l: Descriptor, signal: AbortSignal) => {
      const { cached } = await cache.fetch(l.digest, l.size, {
        image,
        open: (offset) => client.blob(l.digest, offset, foreignUrls(l)),
        streamError: (e) => client.blobStreamError(e),
        mismatch: (why) => mismatch(`blob ${l.digest}`, why),
        isTransient: isTransientError,
        signal,
        onBytes: (done) => opts.onProgress?.({ kind: 'layer', digest: l.digest, done, total: l.size }),
      });
      opts.onProgress?.({ kind: 'layer-done', digest: l.digest, total: l.size, cached });
    };
    const fill = async (signal: AbortSignal) => {
      signal.addEventListener('abort', () => ac.abort(signal.reason), { once: true });
      await inParallel(
        manifest.layers,
        PARALLEL_DOWNLOADS,
        (l) => fetchOne(l, ac.signal),
        (e) => ac.abort(e),
      );
    };
    const img = await store
      .addPulled({ what: image, config, manifest: manifestBytes, layers, refs }, fill, { warn: opts.warn })
      .catch((e) => {
        // The unpack (and the store's index) can run out of room as the downloads can.
        throw diskFullError(image, store.dir, e) ?? e;
      });
    return { image: img, bytes };
  } catch (e) {
    if (opts.signal?.aborted && !(e instanceof PodboxError))
      throw new PodboxError('ImagePullFailed', `pulling ${image} was interrupted`, 'pull it again');
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Runs `f` over `items`, at most `n` at a time, in order; the first failure stops new starts and calls `failed`. */
async function inParallel<T>(
  items: T[],
  n: number,
  f: (item: T) => Promise<void>,
  onFailure: (e: unknown) => void,
): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await f(item);
      } catch (e) {
        if (!failed) {
          failed = { e };
          onFailure(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.e;
}
