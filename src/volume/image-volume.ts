import type { Pod } from '../api/types.js';
import { ImageStore, type StoredImage } from '../image/store.js';
import { pullImage, type PullOptions } from '../image/pull.js';
import { imageWords, shouldPull, ERR_IMAGE_NEVER_PULL, ERR_IMAGE_PULL } from '../lifecycle/image-pulls.js';
import type { NativeMount } from '../sandbox/native.js';
import { MS } from '../sandbox/native.js';
import { PodboxError } from '../errors.js';

/**
 * Image volumes (`volumes[].image`, Kubernetes 1.31+, KEP-4639): an image of podbox's store,
 * its layers merged as for a container, mounted read-only in every container that names it.
 *  - resolved when the pod is created, with `pullPolicy` as for a container image (the API's
 *    default: Always for `:latest` or no tag, else IfNotPresent; image_manager.go
 *    shouldPullImage); a failed pull, or Never with the image absent, fails the pod's creation
 *    with the kubelet's words (the kubelet retries with back-off, its containers waiting)
 *  - read-only and noexec whatever the volumeMount says (the v1 API's ImageVolumeSource: "mounted
 *    read-only (ro) and non-executable files (noexec)"; the kubelet hands the CRI an image mount
 *    with readonly set), nosuid and nodev too; a subPath is allowed, as since Kubernetes 1.33
 *  - the pod keeps the image in use: `podbox image rm` refuses it while the pod is there
 *    (RuntimeInfo.volumeImages, pod/image-users.ts)
 */

/** Each image volume's image, pulled as its policy says: volume name → image. */
export async function ensureVolumeImages(
  pod: Pod,
  pull: Pick<PullOptions, 'pullSecrets' | 'signal'> & { insecure: (ref: string) => boolean | undefined },
): Promise<Map<string, StoredImage>> {
  const out = new Map<string, StoredImage>();
  for (const v of pod.spec.volumes ?? []) {
    if (!v.image) continue;
    const ref = v.image.reference;
    // Defaulted by manifest.ts as the API server does (Always for `:latest` or no tag).
    const policy = v.image.pullPolicy ?? 'IfNotPresent';
    let img = ImageStore.open().resolve(ref);
    if (policy === 'Never' && !img)
      throw new PodboxError(
        'ImageNotFound',
        `volume "${v.name}": ${ERR_IMAGE_NEVER_PULL}: ${imageWords.neverPull(ref)}`,
        `pull it with \`podbox image pull ${ref}\` or load it with \`podbox image load\`, ` +
          "or set the volume's pullPolicy",
      );
    if (shouldPull(policy, img !== undefined)) {
      try {
        img = (
          await pullImage(ref, { pullSecrets: pull.pullSecrets, signal: pull.signal, insecure: pull.insecure(ref) })
        ).image;
      } catch (e) {
        throw new PodboxError(
          'ImagePullFailed',
          `volume "${v.name}": ${ERR_IMAGE_PULL}: ${imageWords.failed(ref, (e as Error).message)}`,
          'check the reference and the registry, or set pullPolicy: Never for an image already loaded',
        );
      }
    }
    out.set(v.name, img!);
  }
  return out;
}

/**
 * The mounts that show `image` at `target` in the pod's mount namespace: a bind of the image's root
 * filesystem, remounted read-only and noexec (as runc does a `ro` bind). The one place that
 * knows where an image's files are for a volume: StoredImage.rootfs (ImageStore.resolve).
 */
export function imageVolumeMounts(image: StoredImage, target: string): NativeMount[] {
  return [
    { source: image.rootfs, target, flags: MS.BIND },
    { target, flags: MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOEXEC | MS.NOSUID | MS.NODEV },
  ];
}
