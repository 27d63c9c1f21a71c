import { join } from 'node:path';
import { PodDir } from '../pod/dir.js';
import { ServeState } from './serve-state.js';
import { staticSourceOf } from './static-pod.js';

/**
 * `podbox delete` of a static pod. The kubelet makes a static pod again while its file exists (a
 * deleted mirror pod is recreated: kubelet.go syncPod, "Creating a mirror pod"); `podbox serve` does
 * the same. `--force` keeps it deleted until its file changes or serve starts again: serve is told
 * through ServeState.hold, before the deletion, so it never sees the pod gone without knowing.
 * Returns the line to say after the deletion, or undefined for a pod that is not static.
 */
export function staticDeletion(name: string, force: boolean): string | undefined {
  let source;
  try {
    source = staticSourceOf(PodDir.open(name).record().pod);
  } catch {
    return undefined; // not found: deletePod says so
  }
  if (!source) return undefined;
  const file = join(source.dir, source.file);
  const state = ServeState.of(source.dir);
  if (force) {
    state.hold(name, source.hash);
    return `pod "${name}" is a static pod of ${file}: kept deleted until the file changes or \`podbox serve\` restarts`;
  }
  const served =
    state.servingPid() !== undefined ? '`podbox serve` makes it again' : 'the next `podbox serve` makes it again';
  return (
    `pod "${name}" is a static pod of ${file}: ${served} while the file exists ` +
    `(remove the file to delete it for good, or delete with --force to keep it deleted until the file changes)`
  );
}
