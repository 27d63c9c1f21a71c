import { mkdirSync, writeFileSync, existsSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { mountInPod, overlayMount } from '../sandbox/sandbox.js';
import { removeTrees } from '../sandbox/userns.js';
import { PodboxError } from '../errors.js';
import type { ContainerConfigReason } from '../lifecycle/pod-machine.js';

/**
 * A container's OCI bundle under the pod: containers/NAME/{config.json, rootfs, upper, work}.
 * The root filesystem is an overlay mounted in the pod's mount namespace: the image's unpacked
 * rootfs is the read-only lower layer shared by every container and pod using the image; upper
 * and work are this container's own. A restarted container gets a fresh upper layer, as a new
 * container does in Kubernetes.
 */
export interface Bundle {
  dir: string;
  rootfs: string;
}

export function bundlePaths(podDir: string, container: string): Bundle & { upper: string; work: string } {
  const dir = join(podDir, 'containers', container);
  return { dir, rootfs: join(dir, 'rootfs'), upper: join(dir, 'upper'), work: join(dir, 'work') };
}

export async function mountRootfs(pausePid: number, podDir: string, container: string, lower: string): Promise<Bundle> {
  const p = bundlePaths(podDir, container);
  if (existsSync(p.upper)) {
    // A restart: drop the previous instance's overlay and its writable layer. Its files may belong
    // to any pod uid, so they are removed from inside the pod's user namespace.
    mountInPod(pausePid, `container "${container}": unmount previous root filesystem`, [], [p.rootfs]);
    await removeTrees([p.upper, p.work], { inPod: pausePid });
  }
  for (const d of [p.rootfs, p.upper, p.work]) mkdirSync(d, { recursive: true });
  mountInPod(pausePid, `container "${container}": mount overlay root filesystem`, [overlayMount(lower, p.upper, p.work, p.rootfs)]);
  return { dir: p.dir, rootfs: p.rootfs };
}

export function writeConfig(bundle: Bundle, config: Record<string, unknown>): void {
  writeFileSync(join(bundle.dir, 'config.json'), JSON.stringify(config, null, 1));
}

/** Reads a small text file of an image rootfs (e.g. etc/passwd) without following a symlink out of it. */
export function readImageFile(rootfs: string, rel: string): string {
  const file = join(rootfs, rel);
  try {
    if (!lstatSync(file).isFile()) return '';
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A container that cannot be made (nothing ran): the supervisor hands `reason` and `detail`, the
 * kubelet's status message, to the pod machine (configFailed), which retries it.
 */
export class ContainerConfigError extends PodboxError {
  constructor(
    readonly container: string,
    readonly reason: ContainerConfigReason,
    readonly detail: string,
  ) {
    super('InvalidManifest', `container "${container}": ${detail}`, 'fix the pod manifest or the image');
  }
}
