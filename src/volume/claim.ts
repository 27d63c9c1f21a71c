import type { Manifest, PersistentVolumeClaim, Volume } from '../api/types.js';
import type { PreparedVolume } from './volumes.js';
import { ensureVolume, volumeDataPath, type NamedVolume } from './named-volumes.js';

/**
 * persistentVolumeClaim volumes. There is no API server to bind a claim to a volume, so podbox does
 * what `podman kube play` does (pkg/domain/infra/abi/play.go, getVolumesFrom / kube.go
 * VolumeFromPersistentVolumeClaim): a claim is the named volume of its claimName, created on first
 * use and kept across pods and runs (named-volumes.ts). A PersistentVolumeClaim document given with
 * the pod creates the volume with its access modes, labels and storage request recorded (not
 * enforced: one machine, and a directory has no size); a claim with no document and no volume yet
 * gets an empty one, as podman creates a missing volume, rather than a pod stuck Pending on a claim
 * nothing could ever bind.
 */
export function claimVolume(path: string, v: Volume, m: Manifest): PreparedVolume {
  const source = v.persistentVolumeClaim!;
  ensureVolume(source.claimName, claimRecord(m.claims?.get(source.claimName)));
  // readOnly: every mount of it is read-only (volumes.ts PreparedVolume).
  const host = { path: volumeDataPath(source.claimName), type: 'Directory' as const };
  return { name: v.name, path, readOnly: source.readOnly === true, host };
}

/** Every PersistentVolumeClaim document of the file, whether the pod uses it or not (kubectl apply creates them all). */
export function createClaimedVolumes(m: Manifest): void {
  for (const [name, doc] of m.claims ?? []) ensureVolume(name, claimRecord(doc));
}

function claimRecord(doc: PersistentVolumeClaim | undefined): Omit<NamedVolume, 'name' | 'createdAt'> {
  if (!doc) return { origin: 'first-use' };
  return {
    origin: 'claim',
    ...(doc.metadata.labels ? { labels: doc.metadata.labels } : {}),
    ...(doc.spec.accessModes ? { accessModes: doc.spec.accessModes } : {}),
    ...(doc.spec.resources?.requests?.storage ? { storage: doc.spec.resources.requests.storage } : {}),
  };
}
