import { lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../api/types.js';
import type { MountSource } from '../container/oci-config.js';
import type { PreparedVolume } from './volumes.js';
import { native } from '../sandbox/native.js';
import { PodboxError } from '../errors.js';
import { bundlePaths } from '../container/bundle.js';
import { payloadPath } from './atomic-writer.js';
import { trace } from '../host/trace.js';

/**
 * The sources of a container's volume mounts. A volume is mounted from its own directory; a
 * subPath is a path a container may have shaped (an init container can leave `esc -> /home/USER`
 * in an emptyDir), so it is never handed to runc as `${volume}/${subPath}`, which runc would
 * follow. As the kubelet does (pkg/volume/util/subpath/subpath_linux.go doBindSubPath), it is
 * resolved inside the volume by the kernel, one component at a time, refusing any symlink, and
 * what was found is bound by descriptor onto containers/NAME/subpaths/INDEX, a path in the
 * read-only part of the pod's root (sandbox/pod-root.ts) that no container can change; runc gets
 * that path. A subPath that does not exist yet is created on the way, owned by the container's
 * user (kubelet_pods.go makeMounts).
 */
export function containerMounts(o: {
  pausePid: number;
  podDir: string;
  container: Container;
  volumes: Map<string, PreparedVolume>;
  user: { uid: number; gid: number };
}): MountSource[] {
  return (o.container.volumeMounts ?? []).map((m, index) => {
    const v = o.volumes.get(m.name)!;
    const readOnly = v.readOnly || m.readOnly === true;
    const noExec = v.noExec ? { noExec: true } : {};
    if (!m.subPath) return { source: v.path, destination: m.mountPath, readOnly, ...noExec };
    const target = join(bundlePaths(o.podDir, o.container.name).dir, 'subpaths', String(index));
    const subpath = v.atomic ? payloadPath(v.path, m.subPath) : m.subPath;
    makeTarget(target, isFile(join(v.path, subpath)));
    try {
      native().bindSubpath(o.pausePid, {
        volume: v.path,
        subpath,
        target,
        uid: o.user.uid,
        gid: o.user.gid,
      });
      trace()?.step('mount', `subPath ${subpath} of volume ${m.name} bound on ${target}, resolved inside the volume`, {
        container: o.container.name,
        pid: o.pausePid,
        detail: { volume: m.name, subPath: subpath, target },
      });
    } catch (e) {
      throw new PodboxError(
        'RuntimeFailed',
        `container "${o.container.name}": volume "${m.name}" subPath "${m.subPath}": ${(e as Error).message}`,
        'a subPath must lead to a file or directory inside the volume through no symlink',
      );
    }
    return { source: target, destination: m.mountPath, readOnly, ...noExec };
  });
}

/**
 * Only a guess of what the subPath is, to make the mount point of the same kind: it may change
 * before the bind, which then fails (a directory cannot be bound onto a file) rather than go astray.
 */
function isFile(path: string): boolean {
  try {
    const st = lstatSync(path);
    return !st.isDirectory() && !st.isSymbolicLink();
  } catch {
    return false;
  }
}

/** The mount point: containers/ is read-only in the pod, so only podbox writes here. */
function makeTarget(target: string, file: boolean): void {
  let st;
  try {
    st = lstatSync(target);
  } catch {
    /* first start */
  }
  if (st && st.isDirectory() === file) rmSync(target, { recursive: true });
  if (file) {
    mkdirSync(join(target, '..'), { recursive: true });
    if (!st || st.isDirectory()) writeFileSync(target, '');
  } else {
    mkdirSync(target, { recursive: true });
  }
}
