import type { Pod } from '../api/types.js';
import { native } from '../sandbox/native.js';
import { PodboxError } from '../errors.js';

/**
 * `securityContext.fsGroup` on a pod's volumes, as the kubelet applies it (pkg/volume/volume_linux.go
 * SetVolumeOwnership): every file and directory of the volume gets the fsGroup as its group; files
 * gain 0660 (0440 on a read-only volume), directories 0770 (0550) and setgid, so what a container
 * creates there belongs to the fsGroup whatever its own groups. Symlinks get the group only.
 *
 * prepareVolumes hands applyFsGroup the volumeOwnership of each volume whose kubelet plugin calls
 * SetVolumeOwnership: emptyDir, configMap, secret, downwardAPI, projected (the last four readOnly) and
 * persistentVolumeClaim (persistent). hostPath never (its plugin supports no ownership management).
 * A medium: Memory emptyDir is a fresh tmpfs, born with the same group and mode (sandbox.ts tmpfsMount).
 *
 * Rootless, the files belong to the user on the host and a pod gid is one of its subordinate ids,
 * which only a process in the pod's user namespace can give: the walk runs in a helper forked from
 * this process that joins the pause process's user namespace and nothing else (native/namespaces.c
 * pb_set_volume_ownership_in_namespaces), one fork and setns for all of a pod's volumes; a pod
 * without fsGroup costs nothing.
 */
export type FsGroupChangePolicy = 'OnRootMismatch' | 'Always';

export interface VolumeOwnership {
  /** the volume's directory on the host */
  path: string;
  /** the pod's fsGroup; undefined: the volume is left as it was made */
  fsGroup: number | undefined;
  policy: FsGroupChangePolicy;
  readOnly: boolean;
}

/**
 * The ownership the volume of `pod` at `path` gets. Only volumes whose contents outlive the pod
 * (`persistent`: persistentVolumeClaim) honour fsGroupChangePolicy: emptyDir, configMap, secret,
 * downwardAPI and projected are new at each pod start and their plugins pass a nil policy, i.e.
 * Always (empty_dir.go and configmap.go SetUpAt pass nil as SetVolumeOwnership's fsGroupChangePolicy).
 */
export function volumeOwnership(
  pod: Pod,
  path: string,
  o: { readOnly: boolean; persistent?: boolean },
): VolumeOwnership {
  const sc = pod.spec.securityContext;
  const policy = o.persistent ? (sc.fsGroupChangePolicy ?? 'Always') : 'Always';
  return { path, fsGroup: sc.fsGroup, policy, readOnly: o.readOnly };
}

/**
 * Gives each volume to its fsGroup, all in one helper in the user namespace of the pod whose pause
 * process is `pausePid` (one fork for the pod: the fork, not the walk, is what costs). Returns, per
 * volume, whether its tree was walked: not without fsGroup, nor when OnRootMismatch found the root
 * already the fsGroup's, setgid, with the group bits. Without any fsGroup nothing is started.
 */
export function applyFsGroup(pausePid: number, volumes: VolumeOwnership[]): boolean[] {
  const owned = volumes.filter((v) => v.fsGroup !== undefined);
  if (owned.length === 0) return volumes.map(() => false);
  let walked: boolean[];
  try {
    walked = native().setVolumeOwnership(
      pausePid,
      owned.map((v) => ({
        path: v.path,
        gid: v.fsGroup!,
        readOnly: v.readOnly,
        onRootMismatch: v.policy === 'OnRootMismatch',
      })),
    );
  } catch (e) {
    const v = owned[(e as { volume?: number }).volume ?? 0] ?? owned[0]!;
    throw new PodboxError(
      'SandboxFailed',
      `volume ${v.path}: cannot give it to fsGroup ${v.fsGroup}: ${(e as Error).message}`,
      'run `podbox doctor`',
    );
  }
  return volumes.map((v) => (v.fsGroup === undefined ? false : walked[owned.indexOf(v)]!));
}
