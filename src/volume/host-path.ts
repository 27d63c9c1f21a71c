import { constants as os } from 'node:os';
import { closeSync, constants, lstatSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import type { Volume } from '../api/types.js';
import { native } from '../sandbox/native.js';
import { PodboxError } from '../errors.js';
import type { PreparedVolume } from './volumes.js';
import { trace } from '../host/trace.js';

/**
 * hostPath volumes (pkg/volume/hostpath/host_path.go) and the other volumes that are a directory
 * of the host bound into the pod (named volumes, claim.ts). The pod's mount namespace has a root
 * of its own that holds none of the user's files (sandbox/pod-root.ts), so such a volume is bound
 * in from outside, once per pod, before its first container is made (as the kubelet's volume
 * manager mounts every volume before SyncPod creates a container): the host path is opened once
 * (native openHostTree: following symlinks, as the kubelet's bind does), its type is checked on the
 * object opened, and that very object is mounted on the pod's volumes/NAME by descriptor. What the
 * path leads to afterwards does not matter; a subPath inside it is resolved as any subPath is
 * (subpath.ts: beneath the volume, through no symlink).
 */

/** v1.HostPathType; "" (HostPathUnset, the default) checks nothing. */
export type HostPathType = NonNullable<Volume['hostPath']>['type'];

/** What a PreparedVolume bound from the host carries (saved with the pod: a later supervisor binds what is left). */
export interface HostSource {
  /** absolute host path */
  path: string;
  /** the check the object must pass (a named volume's directory: Directory) */
  type: HostPathType;
  /** bound in the pod's mount namespace already */
  bound?: boolean;
}

/** A volume that could not be set up: the kubelet's FailedMount ("MountVolume.SetUp failed for volume ..."). */
export class VolumeMountError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The pod's hostPath volume `v`, not yet bound (bindHostVolumes does it). Device types are refused
 * rootless as one line: a device node in a user namespace is no use without privileges the user
 * does not have (and runc would not pass it through). As root they are checked as the kubelet does.
 */
export function hostPathVolume(podName: string, path: string, v: Volume): PreparedVolume {
  const hp = v.hostPath!;
  if ((hp.type === 'CharDevice' || hp.type === 'BlockDevice') && process.getuid!() !== 0) {
    throw new PodboxError(
      'UnsupportedField',
      `pod "${podName}": volume "${v.name}": hostPath type ${hp.type} (${hp.path}) cannot be used rootless`,
      'run podbox as root to pass a device into a pod, or remove the volume',
    );
  }
  return { name: v.name, path, readOnly: false, host: { path: hp.path, type: hp.type } };
}

/**
 * The message of host_path.go checkTypeInternal for the object found at `path` (mode: its st_mode,
 * undefined when nothing is there), or undefined when it passes. hostutil's GetFileType knows
 * sockets, devices, directories and regular files; anything else (a FIFO) is none of them.
 */
export function hostPathTypeProblem(path: string, type: HostPathType, mode: number | undefined): string | undefined {
  const kind = mode === undefined ? undefined : mode & constants.S_IFMT;
  const is = (k: number) => kind === k;
  switch (type) {
    case '':
      return undefined;
    case 'DirectoryOrCreate':
    case 'Directory':
      return is(constants.S_IFDIR) ? undefined : `hostPath type check failed: ${path} is not a directory`;
    case 'FileOrCreate':
    case 'File':
      return is(constants.S_IFREG) ? undefined : `hostPath type check failed: ${path} is not a file`;
    case 'Socket':
      return is(constants.S_IFSOCK) ? undefined : `hostPath type check failed: ${path} is not a socket file`;
    case 'CharDevice':
      return is(constants.S_IFCHR) ? undefined : `hostPath type check failed: ${path} is not a character device`;
    case 'BlockDevice':
      return is(constants.S_IFBLK) ? undefined : `hostPath type check failed: ${path} is not a block device`;
  }
}

/**
 * Creates what an `OrCreate` type asks for when nothing is at the path, as host_path.go does
 * (checkTypeInternal → hostutil MakeDir: MkdirAll 0755; MakeFile: O_CREATE 0644, so the parent must
 * exist). With type "" the kubelet checks nothing and the runtime makes a missing path a directory
 * (containerd pkg/cri/opts/spec_linux.go WithMounts: MkdirAll 0755), and so does podbox. Returns the
 * error text the kubelet would report, or undefined.
 */
function createIfMissing(path: string, type: HostPathType): string | undefined {
  if (type !== '' && type !== 'DirectoryOrCreate' && type !== 'FileOrCreate') return undefined;
  try {
    lstatSync(path);
    return undefined;
  } catch {
    /* nothing there: make it */
  }
  try {
    if (type === 'FileOrCreate') closeSync(openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o644));
    else mkdirSync(path, { recursive: true, mode: 0o755 });
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `${type === 'FileOrCreate' ? 'open' : 'mkdir'} ${path}: ${goErrno(err)}`;
  }
}

/** Go's wording of an errno (syscall.Errno.Error), which the kubelet's messages carry. */
function goErrno(e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory',
    EEXIST: 'file exists',
    ELOOP: 'too many levels of symbolic links',
    EROFS: 'read-only file system',
  };
  return words[e.code ?? ''] ?? e.message.replace(/^[A-Z]+: /, '').replace(/, .*$/, '');
}

/**
 * Binds every host volume of the pod not bound yet into its mount namespace (pausePid's), or throws
 * a VolumeMountError for the first that cannot be: the caller leaves the pod's containers waiting
 * and tries again later, as the kubelet's volume manager does.
 */
export function bindHostVolumes(pausePid: number, volumes: Iterable<PreparedVolume>): void {
  for (const v of volumes) {
    const host = v.host;
    if (!host || host.bound) continue;
    const made = createIfMissing(host.path, host.type);
    if (made) throw new VolumeMountError(v.name, made);
    let tree: { fd: number; mode: number } | undefined;
    try {
      tree = native().openHostTree(host.path);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      // Nothing there: the type check says so in the kubelet's words.
      const missing = errno === os.errno.ENOENT || errno === os.errno.ENOTDIR;
      const problem = missing ? hostPathTypeProblem(host.path, host.type, undefined) : undefined;
      throw new VolumeMountError(v.name, problem ?? `${host.path}: ${(e as Error).message}`);
    }
    try {
      const problem = hostPathTypeProblem(host.path, host.type, tree.mode);
      if (problem) throw new VolumeMountError(v.name, problem);
      makeMountPoint(v.path, (tree.mode & constants.S_IFMT) === constants.S_IFDIR);
      try {
        native().moveTreeInto(pausePid, tree.fd, v.path);
      } catch (e) {
        throw new VolumeMountError(v.name, `bind ${host.path}: ${(e as Error).message}`);
      }
      trace()?.step('mount', `hostPath ${host.path} bound on ${v.path} in pause's mount namespace (opened as you)`, {
        pid: pausePid,
        detail: { volume: v.name, source: host.path, target: v.path },
      });
    } finally {
      closeSync(tree.fd);
    }
    host.bound = true;
  }
}

/**
 * The volume's mount point in the pod's directory (read-only in the pod: only podbox changes it), of
 * the kind of what is bound there: a file or a socket is bound onto a file.
 */
function makeMountPoint(target: string, dir: boolean): void {
  let st;
  try {
    st = lstatSync(target);
  } catch {
    /* made below */
  }
  if (st && st.isDirectory() === dir) return;
  if (st) rmSync(target, { recursive: true });
  if (dir) mkdirSync(target);
  else writeFileSync(target, '');
}
