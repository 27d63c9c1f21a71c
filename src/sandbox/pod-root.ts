import { existsSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The root filesystem of a pod's mount namespace, which pause, runc and every helper podbox runs in
 * the pod have as their `/`. It used to be a copy of the host's: with shareProcessNamespace and
 * SYS_PTRACE a container could open /proc/1/root (pause) or /proc/PID/root of the `runc run` that
 * started it, and read and write the user's files. On Kubernetes those processes are either not in
 * the pod's PID namespace (runc, the shim) or rooted in the tiny pause image; podbox keeps runc in
 * the pod's PID namespace (its containers must die with pause) and instead gives the whole mount
 * namespace a root that holds only what runc needs, as bubblewrap builds one (bubblewrap.c
 * setup_newroot):
 *  - read-only: the system's programs and libraries (/usr, /bin, /sbin, /lib*, and of /etc only
 *    the dynamic linker's cache: as root the pod's uid 0 is the host's, and /etc/shadow is not
 *    for it), the image store (overlay lower layers) and the pod's own directory;
 *  - read-write: only what runc and the pod's mounts write (POD_WRITABLE_DIRS; emptyDirs and each
 *    container's layer are made writable when they are mounted);
 *  - /sys read-only but for the cgroup mounts under it (runc manages cgroups there as root), the
 *    standard devices, a proc of the pod.
 * Nothing else of the host: no $HOME, /root, /run/user, /tmp beyond podbox's own directories.
 * The pod directory is read-only there because the supervisor writes files in it by path: a
 * container must not be able to swap one of them for a symlink into the user's files.
 */
export interface RootEntry {
  path: string;
  kind: 'ro' | 'rw' | 'symlink';
  link?: string;
}

/** Directories of the pod that processes in the pod write: runc's state and logs (container/runc.ts) and
 * the pod's /etc files, which containers may write as they may on Kubernetes (container/pod-files.ts). */
export const POD_WRITABLE_DIRS = ['runc', 'runc-logs', 'etc'];

const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** runc is linked dynamically: ld.so reads its cache, and nothing else of /etc is needed. */
const SYSTEM_FILES = ['/etc/ld.so.cache'];
/** The devices runc binds into a container from its own /dev when it runs in a user namespace. */
const DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

/** The directory the pod's root is built on (an empty mount point; the tmpfs root hides it). */
export function podRootDir(podDir: string): string {
  return join(podDir, 'root');
}

/**
 * What the pod's root holds, in mount order. Creates the pod's mount points on the host first:
 * they cannot be made inside once the pod directory is read-only.
 */
export function podRootEntries(o: { podDir: string; imageStore: string; runc: string }): RootEntry[] {
  for (const d of [podRootDir(o.podDir), ...POD_WRITABLE_DIRS.map((d) => join(o.podDir, d))])
    mkdirSync(d, { recursive: true });
  const entries: RootEntry[] = [];
  for (const p of SYSTEM_DIRS) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    // Merged /usr: /bin -> usr/bin is a symlink, and stays one.
    entries.push(st.isSymbolicLink() ? { path: p, kind: 'symlink', link: readlinkSync(p) } : { path: p, kind: 'ro' });
  }
  for (const f of SYSTEM_FILES) if (existsSync(f)) entries.push({ path: f, kind: 'ro' });
  if (!SYSTEM_DIRS.some((d) => o.runc.startsWith(`${d}/`))) entries.push({ path: o.runc, kind: 'ro' });
  // Read-only applies to sysfs itself; the cgroup mounts below it keep their own flags.
  entries.push({ path: '/sys', kind: 'ro' });
  for (const d of DEVICES) if (existsSync(d)) entries.push({ path: d, kind: 'rw' });
  if (existsSync(o.imageStore)) entries.push({ path: o.imageStore, kind: 'ro' });
  entries.push({ path: o.podDir, kind: 'ro' });
  for (const d of POD_WRITABLE_DIRS) entries.push({ path: join(o.podDir, d), kind: 'rw' });
  return entries;
}
