import type { StoredImage } from './store.js';
import { parseReference, repositoryOf } from './reference.js';

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
