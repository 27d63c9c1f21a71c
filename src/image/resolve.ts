import type { Manifest } from '../api/types.js';
import { ImageStore, type StoredImage } from './store.js';
import { PodboxError } from '../errors.js';
import { parseReference, repositoryOf } from './reference.js';

/**
 * Resolves every container's image before anything is created, with Kubernetes' imagePullPolicy
 * (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy). Registry pulls are
 * not part of podbox yet: an image must have been loaded or imported.
 */
export function resolveImages(m: Manifest, store = ImageStore.open()): Map<string, StoredImage> {
  const out = new Map<string, StoredImage>();
  const all = [
    ...(m.pod.spec.initContainers ?? []).map((c) => ['initContainers', c] as const),
    ...m.pod.spec.containers.map((c) => ['containers', c] as const),
  ];
  for (const [field, c] of all) {
    const img = store.resolve(c.image);
    if (!img) {
      throw new PodboxError(
        'ImageNotFound',
        `pod "${m.pod.metadata.name}": container "${c.name}": image "${c.image}" is not present (imagePullPolicy ${c.imagePullPolicy}, and podbox cannot pull from a registry yet)`,
        `load it with \`podbox image load FILE\` or \`podbox image import ROOTFS ${c.image}\` (spec.${field}[].image)`,
      );
    }
    out.set(c.name, img);
  }
  return out;
}

export function imagesById(ids: Record<string, string>, store = ImageStore.open()): Map<string, StoredImage> {
  const out = new Map<string, StoredImage>();
  for (const [name, id] of Object.entries(ids)) {
    const img = store.resolve(id);
    if (!img)
      throw new PodboxError(
        'ImageNotFound',
        `image ${id} of container "${name}" was removed`,
        'load it again and re-run the pod',
      );
    out.set(name, img);
  }
  return out;
}

/**
 * A container status's `imageID`, as containerd's CRI reports the image ref the kubelet copies
 * (cri ContainerStatus: the image's repo digest when it has one, else its id): the digest
 * reference in the container's own repository if there is one, else the first, else `sha256:…`.
 */
export function statusImageID(img: StoredImage, image: string): string {
  let repository: string | undefined;
  try {
    repository = repositoryOf(parseReference(image));
  } catch {
    repository = undefined;
  }
  return img.digests.find((d) => d.startsWith(`${repository}@`)) ?? img.digests[0] ?? img.id;
}
