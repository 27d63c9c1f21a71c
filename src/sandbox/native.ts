import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { PodboxError } from '../errors.js';
import type { RootEntry } from './pod-root.js';

/** The namespaces podbox creates or joins, named as under /proc/PID/ns/. */
export type NamespaceName = 'user' | 'mnt' | 'pid' | 'net' | 'ipc' | 'uts' | 'cgroup';

export interface NativeMount {
  source?: string;
  target: string;
  fstype?: string;
  flags: number;
  data?: string;
}

/** What createNamespaces starts, and in which new namespaces. */
export interface CreateNamespacesOptions {
  argv: string[];
  env: string[];
  namespaces: NamespaceName[];
  hostname?: string;
  mountProc?: boolean;
  giveStatusFd?: boolean;
  /** PR_SET_PDEATHSIG: killed when this process exits (a helper, never a pod's pause: pods outlive it) */
  dieWithParent: boolean;
  /** descriptors the program keeps, at 4, 5, ... in this order (at most 8) */
  extraFds?: number[];
  stdio?: (number | null)[];
  /** with 'mnt': the new root filesystem (see pod-root.ts) and the empty directory it is built on */
  rootDir?: string;
  root?: RootEntry[];
  /** with rootDir: the program to run (argv[0] is then only its name, a host path shown to nobody) */
  program?: string;
  /**
   * a user namespace (an fd) to make the new one in, instead of this process's: the child's maps
   * (uidMap, gidMap: /proc/PID/uid_map lines) are then written by the addon, as root of that one
   */
  parentUserns?: number;
  uidMap?: string;
  gidMap?: string;
}

/** The addon built from native/addon.cc (see that file for what each verb does). */
export interface Native {
  createNamespaces(o: CreateNamespacesOptions): { pid: number; syncFd: number; statusFd: number };
  releaseChild(syncFd: number, statusFd: number): void;
  spawnInNamespaces(o: {
    pid: number;
    namespaces: NamespaceName[];
    /** for each of namespaces, the namespace file to join instead of /proc/PID/ns/NAME */
    paths?: string[];
    argv: string[];
    env: string[];
    cwd?: string;
    stdio?: (number | null)[];
    /** PR_SET_PDEATHSIG: killed when this process exits */
    dieWithParent: boolean;
    /** with 'pid' and not 'mnt': a private mount namespace with a /proc of the PID namespace joined */
    mountProc?: boolean;
  }): number;
  /** the ns-spawn program spawnInNamespaces execs to join a pod (native/ns-spawn.c) */
  setNsSpawn(path: string): void;
  mountInNamespaces(pid: number, unmounts: string[], mounts: NativeMount[]): void;
  /** a child of this process: reaps it and says how it ended; for any other process, (null, null) once it exited */
  watchExit(pid: number, cb: (code: number | null, signal: number | null) => void): void;
  /** any process: calls back once it has exited (reaps nothing); false, and no call, if it is already gone */
  watchPidExit(pid: number, cb: () => void): boolean;
  pipe(): [number, number];
  /**
   * posix_spawn (no copy of this process's memory); stdio[i] becomes the child's fd i (0 to 2: -1 or
   * absent, inherited), no other fd is; newSession: setsid. Throws with .code (ENOENT, ...).
   */
  spawnProgram(o: { path: string; argv: string[]; env: string[]; stdio?: number[]; newSession?: boolean }): number;
  /** throws an Error with code (EEXIST, ...) and a message naming path */
  mkfifo(path: string, mode: number): void;
  /** the fd holding flock(LOCK_EX) on path (created 0600, close-on-exec), or -1 when another process holds it */
  lockFile(path: string): number;
  socketInNamespace(pid: number, family: 4 | 6): number;
  /** a socket bound to ip:port in pid's network namespace, bound with the caps of pid's user namespace */
  boundSocketInNamespace(pid: number, type: 'udp' | 'tcp', ip: string, port: number): number;
  bindSubpath(pid: number, s: { volume: string; subpath: string; target: string; uid: number; gid: number }): void;
  /** a host path opened once as a detached mount (close fd when done) and the st_mode of what it holds */
  openHostTree(path: string): { fd: number; mode: number };
  /** mounts a detached mount (openHostTree's fd) on target in pid's mount namespace */
  moveTreeInto(pid: number, fd: number, target: string): void;
  /** per volume: false when onRootMismatch found its root already matching and changed nothing */
  setVolumeOwnership(
    pid: number,
    volumes: { path: string; gid: number; readOnly: boolean; onRootMismatch: boolean }[],
  ): boolean[];
}

/** mount(2) flags, from <sys/mount.h>. */
export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, REC: 16384 } as const;

const buildDir = join(projectRoot, 'build', 'Release');
export const pausePath = join(buildDir, 'pause');
export const nsSpawnPath = join(buildDir, 'ns-spawn');

let loaded: Native | undefined;

export function native(): Native {
  if (!loaded) {
    const file = join(buildDir, 'podbox_native.node');
    if (!existsSync(file)) {
      throw new PodboxError(
        'HostNotReady',
        `the native addon ${file} is not built`,
        'run `npm install` (it runs node-gyp) in the podbox directory',
      );
    }
    loaded = createRequire(import.meta.url)(file) as Native;
    // spawnInNamespaces execs ns-spawn (built beside the addon) rather than forking this process.
    if (existsSync(nsSpawnPath)) loaded.setNsSpawn(nsSpawnPath);
  }
  return loaded;
}

/** An error thrown by a kernel step of the addon carries the step's name. */
export function kernelStepOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'step' in e ? String((e as { step: unknown }).step) : undefined;
}
