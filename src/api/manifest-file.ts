import { readAtMost } from '../host/read-at-most.js';
import { PodboxError } from '../errors.js';
import { MAX_MANIFEST_BYTES, manifestTooLarge } from './manifest.js';

/**
 * The text of a manifest file, or of stdin for `-` (`podbox run FILE`, `podbox delete -f FILE`),
 * refused before it is parsed when it is larger than the API server would take.
 */
export function readManifestFile(file: string): string {
  let r: { bytes: Buffer; over: boolean };
  try {
    r = readAtMost(file === '-' ? 0 : file, MAX_MANIFEST_BYTES);
  } catch (e) {
    throw new PodboxError(
      'InvalidArgument',
      `cannot read ${file}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`,
      'give the path of a Pod manifest, or - for stdin',
    );
  }
  if (r.over) throw manifestTooLarge(file === '-' ? 'stdin' : file);
  return r.bytes.toString('utf8');
}
