import { quantityBytes } from '../api/quantity.js';
import { mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, Volume } from '../api/types.js';
import type { NodeAllocatable } from '../api/node.js';
import type { StoredImage } from '../image/store.js';
import type { NativeMount } from '../sandbox/native.js';
import { tmpfsMount, writableBind } from '../sandbox/sandbox.js';
import { hostPathVolume, type HostSource } from './host-path.js';
import { claimVolume, createClaimedVolumes } from './claim.js';
import { writeAtomically, type PayloadFile } from './atomic-writer.js';
import { configMapData, keysPayload, projectedPayload, secretData } from './projected.js';
import { downwardAPIPayload } from './downward-api.js';
import { imageVolumeMounts } from './image-volume.js';
import { applyFsGroup, volumeOwnership, type VolumeOwnership } from './ownership.js';

/**
 * Pod volumes (https://kubernetes.io/docs/concepts/storage/volumes/). Each lives under the pod's
 * volumes/ directory and is bind-mounted into every container that names it, so they share it.
 *  - emptyDir: a directory (mode 0777, as the kubelet makes it); medium Memory: a tmpfs mounted
 *    in the pod's mount namespace, sizeLimit as its size. A disk emptyDir's sizeLimit is enforced
 *    by eviction, as the kubelet does (empty-dir-limit.ts).
 *  - configMap / secret / downwardAPI / projected: files written as the kubelet's atomic writer
 *    does (atomic-writer.ts; payloads: projected.ts, downward-api.ts), always mounted read-only.
 *  - image: an image of the store, mounted read-only (image-volume.ts).
 *  - hostPath (host-path.ts) and persistentVolumeClaim (claim.ts, a named volume): a host directory
 *    bound onto the volume's directory in the pod's mount namespace before the first container starts.
 * With securityContext.fsGroup each but hostPath and image is then given to that group (ownership.ts applyFsGroup).
 * The pod's root shows the pod directory read-only (sandbox/pod-root.ts): an emptyDir is made
 * writable there by a bind of its own, which also makes it a mount point nothing in the pod can
 * rename or swap for a symlink.
 */
export interface PreparedVolume {
  name: string;
  path: string;
  /** mounted read-only whatever the volumeMount says */
  readOnly: boolean;
  /** bound from the host (host-path.ts bindHostVolumes) */
  host?: HostSource;
  /** mounted noexec, nosuid, nodev too (an image volume) */
  noExec?: boolean;
  /** written by the atomic writer: a subPath goes through its `..data` link (atomic-writer.ts payloadPath) */
  atomic?: boolean;
}

/** What volumes are made from besides the manifest: image volumes' images, the node's resources. */
export interface VolumeInputs {
  /** volume name → its image (image-volume.ts ensureVolumeImages) */
  images: Map<string, StoredImage>;
  /** what a downward API resource without a limit stands for (api/resource-field.ts) */
  node: NodeAllocatable;
  /** the pod's pause process: fsGroup ownership is applied in its user namespace (ownership.ts) */
  pausePid: number;
}

export function prepareVolumes(
  podDir: string,
  m: Manifest,
  inputs: VolumeInputs,
): { volumes: Map<string, PreparedVolume>; mounts: NativeMount[] } {
  const volumes = new Map<string, PreparedVolume>();
  const mounts: NativeMount[] = [];
  const owned: VolumeOwnership[] = [];
  createClaimedVolumes(m);
  for (const v of m.pod.spec.volumes ?? []) {
    const path = join(podDir, 'volumes', v.name);
    mkdirSync(path, { recursive: true });
    if (v.emptyDir) {
      chmodSync(path, 0o777);
      const size = v.emptyDir.sizeLimit ? quantityBytes(v.emptyDir.sizeLimit) : undefined;
      if (v.emptyDir.medium === 'Memory') {
        mounts.push(tmpfsMount(path, size, m.pod.spec.securityContext.fsGroup));
      } else {
        mounts.push(...writableBind(path));
        owned.push(volumeOwnership(m.pod, path, { readOnly: false }));
      }
      volumes.set(v.name, { name: v.name, path, readOnly: false });
    } else if (v.hostPath) {
      volumes.set(v.name, hostPathVolume(m.pod.metadata.name, path, v));
    } else if (v.persistentVolumeClaim) {
      const claim = claimVolume(path, v, m);
      owned.push(volumeOwnership(m.pod, claim.host!.path, { readOnly: claim.readOnly, persistent: true }));
      volumes.set(v.name, claim);
    } else if (v.image) {
      mounts.push(...imageVolumeMounts(inputs.images.get(v.name)!, path));
      volumes.set(v.name, { name: v.name, path, readOnly: true, noExec: true });
    } else {
      writeAtomically(v.name, path, payloadOf(v, m, inputs.node));
      owned.push(volumeOwnership(m.pod, path, { readOnly: true }));
      volumes.set(v.name, { name: v.name, path, readOnly: true, atomic: true });
    }
  }
  applyFsGroup(inputs.pausePid, owned);
  return { volumes, mounts };
}

/** The files of a configMap, secret, downwardAPI or projected volume (atomic-writer.ts writes them). */
function payloadOf(v: Volume, m: Manifest, node: NodeAllocatable): PayloadFile[] {
  if (v.configMap) return keysPayload(configMapData(m, v.configMap.name), v.configMap.items, v.configMap.defaultMode);
  if (v.secret) return keysPayload(secretData(m, v.secret.secretName), v.secret.items, v.secret.defaultMode);
  if (v.downwardAPI) return downwardAPIPayload(m.pod, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode, node);
  if (v.projected) return projectedPayload(m, v.projected, node);
  return [];
}
