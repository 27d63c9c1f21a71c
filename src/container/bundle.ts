import { mkdirSync, writeFileSync, existsSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { mountInPod, overlayMount, writableBind } from '../sandbox/sandbox.js';
import { removeTreesInPod } from '../sandbox/userns.js';
import { PodboxError } from '../errors.js';
import type { ContainerConfigReason } from '../lifecycle/pod-machine.js';

/**
 * A container's OCI bundle under the pod: containers/NAME/{config.json, rootfs, layer/{upper, work}}.
 * The root filesystem is an overlay mounted in the pod's mount namespace: the image's unpacked
 * rootfs is the read-only lower layer shared by every container and pod using the image; upper
 * and work are this container's own. A restarted container gets a fresh upper layer, as a new
 * container does in Kubernetes.
 * The pod's root shows the pod directory read-only (sandbox/pod-root.ts); layer/ is made writable
 * there by a bind of its own, so config.json and the directories the supervisor creates by path
 * stay out of reach of anything in the pod, while overlayfs gets the writable mount it needs for
 * upper and work (which must share one mount).
 */
export interface Bundle {
  dir: string;
  rootfs: string;
}

export interface BundlePaths extends Bundle {
  layer: string;
  upper: string;
  work: string;
}

export function bundlePaths(podDir: string, container: string): BundlePaths {
  const dir = join(podDir, 'containers', container);
  const layer = join(dir, 'layer');
  return { dir, rootfs: join(dir, 'rootfs'), layer, upper: join(layer, 'upper'), work: join(layer, 'work') };
}

export async function mountRootfs(pausePid: number, podDir: string, container: string, lower: string): Promise<Bundle> {
  const p = bundlePaths(podDir, container);
  const restart = existsSync(p.layer);
  if (restart) {
    // A restart: drop the previous instance's overlay and its writable layer. Its files may belong
    // to any pod uid, so they are removed from inside the pod's user namespace (where, too, a
    // symlink planted in layer/ can lead nowhere but the pod's own root).
    mountInPod(pausePid, `container "${container}": unmount previous root filesystem`, [], [p.rootfs]);
    await removeTreesInPod(pausePid, [p.upper, p.work]);
  }
  // layer/ is a mount point in the pod (it cannot be swapped), and mkdir never follows a symlink
  // in the last component: these create nothing outside the pod directory.
  for (const d of [p.rootfs, p.upper, p.work]) mkdirSync(d, { recursive: true });
  mountInPod(pausePid, `container "${container}": mount overlay root filesystem`, [
    ...(restart ? [] : writableBind(p.layer)),
    overlayMount(lower, p.upper, p.work, p.rootfs),
  ]);
  return { dir: p.dir, rootfs: p.rootfs };
}

const CONFIG_FILE = 'config.json';

export function writeConfig(bundle: Bundle, config: Record<string, unknown>): void {
  writeFileSync(join(bundle.dir, CONFIG_FILE), JSON.stringify(config, null, 1));
}

/** The config.json runc started the container's current instance with, as written; undefined if there is none. */
export function readConfigText(podDir: string, container: string): string | undefined {
  try {
    return readFileSync(join(bundlePaths(podDir, container).dir, CONFIG_FILE), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Reads a small text file of an image rootfs (e.g. etc/passwd) without following a symlink out of
 * it: no component may be a symlink (a layer may hold `etc -> /home/USER`). The image store is not
 * written by containers, so checking each component before reading is not racy.
 */
export function readImageFile(rootfs: string, rel: string): string {
  let file = rootfs;
  try {
    for (const part of rel.split('/').filter(Boolean)) {
      if (part === '..') return '';
      file = join(file, part);
      const st = lstatSync(file);
      if (st.isSymbolicLink()) return '';
    }
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
