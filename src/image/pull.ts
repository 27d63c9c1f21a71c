// STAND-IN (branch h10c): h10a owns src/image/pull.ts; the merger takes h10a's file and drops this one.
// Same signature; it only looks in the local store.
import { ImageStore, type StoredImage } from './store.js';
import { PodboxError } from '../errors.js';
import type { DockerConfigJson } from '../registry/credentials.js';

export interface PullOptions {
  platform?: string;
  insecure?: boolean;
  pullSecrets?: DockerConfigJson[];
  onProgress?: (e: PullProgress) => void;
  signal?: AbortSignal;
}

export type PullProgress =
  | { kind: 'layer'; digest: string; done: number; total: number }
  | { kind: 'layer-done'; digest: string; total: number; cached: boolean }
  | { kind: 'resolved'; manifest: string; layers: number };

export interface PullResult {
  image: StoredImage;
  bytes: number;
}

export async function pullImage(ref: string, opts: PullOptions = {}): Promise<PullResult> {
  opts.signal?.throwIfAborted();
  const image = ImageStore.open().resolve(ref);
  if (!image)
    throw new PodboxError('ImageNotFound', `image "${ref}" is not present`, 'load it with `podbox image load FILE`');
  return { image, bytes: image.size };
}
