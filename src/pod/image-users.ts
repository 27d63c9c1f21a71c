import { podUsers, type PodUser } from './dir.js';
import { PodboxError } from '../errors.js';

/** Image id → the pods whose containers or image volumes use it (pod.json `images`, state `volumeImages`). */
export function imageUsers(): Map<string, PodUser[]> {
  return podUsers((record, state) => [
    ...Object.values({ ...record.images, ...state?.runtime.images }),
    ...Object.values(state?.runtime.volumeImages ?? {}),
  ]);
}

/**
 * Why image `ref` may not be deleted while `users` use it, or undefined. A running pod's containers
 * read their root filesystem from the image, so nothing overrides it; a finished pod kept for its
 * status and logs needs the image only to run again, so --force may remove it. podman refuses the same
 * way (docs/podman-rmi.1.md: an image "being used by a container" fails `podman rmi` unless --force,
 * which removes those containers); podbox's --force never takes a running pod down.
 */
export function imageRemovalRefusal(ref: string, users: PodUser[], force: boolean): PodboxError | undefined {
  const running = users.filter((u) => u.running).map((u) => u.pod);
  const blocking = force ? running : users.map((u) => u.pod);
  if (blocking.length === 0) return undefined;
  const first = `delete ${blocking.length > 1 ? 'them' : 'it'} first with \`podbox delete ${blocking.join(' ')}\``;
  const hint =
    running.length > 0 ? `${first} (--force does not remove an image a running pod uses)` : `${first}, or use --force`;
  return new PodboxError('InvalidArgument', `image ${ref} is in use by pod(s) ${blocking.join(', ')}`, hint);
}
