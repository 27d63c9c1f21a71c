import { PodboxError, errnoOf, isPodboxError } from '../errors.js';

/**
 * A pull that runs out of room: the disk (ENOSPC), the user's quota (EDQUOT) or the file size limit
 * (EFBIG, `ulimit -f`) while a blob downloads or a layer unpacks. One error for all three, naming
 * the image and the way out, as podman's "writing blob: ... no space left on device" does not.
 */
const FULL = ['ENOSPC', 'EDQUOT', 'EFBIG'] as const;

const WHY: Record<(typeof FULL)[number], string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'a file reached the file size limit (ulimit -f)',
};

/**
 * The error `e` means when it is one of these, else undefined. The unpack worker reports a system
 * error as a PodboxError whose message carries Node's `CODE: text` (unpack.ts asPodboxError): that
 * is read too.
 */
export function diskFullError(image: string, storeDir: string, e: unknown): PodboxError | undefined {
  const code =
    FULL.find((c) => c === errnoOf(e)) ??
    (isPodboxError(e) && e.code === 'HostNotReady' ? FULL.find((c) => e.message.includes(`${c}:`)) : undefined);
  if (!code) return undefined;
  return new PodboxError(
    'HostNotReady',
    `cannot pull ${image}: ${WHY[code]} (writing to ${storeDir})`,
    code === 'EFBIG'
      ? 'raise the limit (`ulimit -f unlimited`) and pull again'
      : 'free some space (`podbox image prune` removes images and layers nothing uses) and pull again',
  );
}
