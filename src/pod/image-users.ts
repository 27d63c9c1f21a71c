import { PodDir, podAlive } from './dir.js';
import { PodboxError } from '../errors.js';

/** A pod that runs (or ran) an image, and whether it is still alive. */
export interface ImageUser {
  pod: string;
  running: boolean;
}

/** Image id → the pods whose containers use it, from each pod's record (pod.json `images`). */
export function imageUsers(): Map<string, ImageUser[]> {
  const out = new Map<string, ImageUser[]>();
  for (const dir of PodDir.list()) {
    let record;
    try {
      record = dir.record();
    } catch {
      continue; // a pod being created or deleted meanwhile
    }
    const running = podAlive(record, dir.state());
    const runtime = dir.state()?.runtime;
    const ids = [
      ...Object.values({ ...record.images, ...runtime?.images }),
      ...Object.values(runtime?.volumeImages ?? {}),
    ];
    for (const id of new Set(ids)) {
      out.set(id, [...(out.get(id) ?? []), { pod: dir.name, running }]);
    }
  }
  return out;
}

/**
 * Why image `ref` may not be deleted while `users` use it, or undefined. A running pod's containers
 * read their root filesystem from the image, so nothing overrides it; a finished pod kept for its
 * status and logs needs the image only to run again, so --force may remove it. podman refuses the same
 * way (docs/podman-rmi.1.md: an image "being used by a container" fails `podman rmi` unless --force,
 * which removes those containers); podbox's --force never takes a running pod down.
 */
export function imageRemovalRefusal(ref: string, users: ImageUser[], force: boolean): PodboxError | undefined {
  const running = users.filter((u) => u.running).map((u) => u.pod);
  const blocking = force ? running : users.map((u) => u.pod);
  if (blocking.length === 0) return undefined;
  const first = `delete ${blocking.length > 1 ? 'them' : 'it'} first with \`podbox delete ${blocking.join(' ')}\``;
  const hint =
    running.length > 0 ? `${first} (--force does not remove an image a running pod uses)` : `${first}, or use --force`;
  return new PodboxError('InvalidArgument', `image ${ref} is in use by pod(s) ${blocking.join(', ')}`, hint);
}
