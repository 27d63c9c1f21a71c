import { closeSync, constants, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { allowedOomScoreAdj, SANDBOX_OOM_SCORE_ADJ } from '../container/oom-score.js';
import { native, pausePath, MS, type NamespaceName, type NativeMount } from './native.js';
import { startInNewNamespaces, sandboxError } from './namespaces.js';
import { podRootDir, podRootEntries } from './pod-root.js';
import { stateDirs } from '../paths.js';
import { runcPath } from '../container/runc.js';
import { traceMounts, traceSandboxStarted } from './trace-steps.js';
import { POD_NETWORK_NET_FD, POD_NETWORK_USERNS_FD, withPodNetwork, type PodNetworkJoin } from './pod-bridge.js';
import { devNullFd } from '../host/pipes.js';

/**
 * The pod sandbox: the pause process and the namespaces it holds. Every pod gets its own user,
 * mount, PID, network, IPC and UTS namespaces; pause is PID 1 of the PID namespace, so when it
 * dies (the pod is deleted) the kernel kills every process of the pod, and the mount namespace
 * with the containers' root filesystems goes too. pause does not die with the supervisor that
 * created it (no PR_SET_PDEATHSIG): pods outlive their supervisor, and its successor adopts them
 * (watchPidExit, since pause is then no child of it); but the pod of a foreground run that is its
 * own supervisor dies with that run (dieWithParent), as a killed run's pod must. Containers run detached (runc run -d), so
 * their first processes are orphans that pause reaps; it appends how each ended to the pod's
 * exits file (pause.c -e, exit-records.ts).
 *
 * The mount namespace has a root of its own (pod-root.ts), not the host's: pause, runc and every
 * helper that joins the pod see only what runc needs, so /proc/PID/root of any of them, which a
 * container with SYS_PTRACE may open, leads to nothing of the user's.
 *
 * Containers get their own PID namespace nested in the pod's, unless shareProcessNamespace, when
 * they join the pod's and pause reaps their zombies (as in Kubernetes, where pause is PID 1 of a
 * shared PID namespace: https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/).
 */
export const POD_NAMESPACES: NamespaceName[] = ['user', 'mnt', 'pid', 'net', 'ipc', 'uts'];

export interface Sandbox {
  /** host pid of pause */
  pid: number;
  /** resolves when pause exits, with how it did */
  exited: Promise<{ code: number | null; signal: number | null }>;
}

export interface SandboxOptions {
  hostname: string;
  name: string;
  /** the pod's directory, the only one of podbox's state dirs the pod's root shows (pod-root.ts) */
  podDir: string;
  /** where pause appends a line for each process it reaps (exit-records.ts); created 0600 if missing */
  exitsFile: string;
  /** a scratch sandbox (doctor's), or the pod of a run that supervises it itself, dies with this process */
  dieWithParent?: boolean;
  /** hostNetwork: pause keeps the user's network namespace instead of making one (network.ts) */
  hostNetwork?: boolean;
  /** on the pod network (pod-bridge.ts): the pod's user namespace is made in the network's, and pause holds it */
  podNetwork?: boolean;
}

/** The fd pause is handed its exits file at: right after the readiness pipe (3), the first extra fd. */
const EXITS_FD = 4;

/** pause keeps the pod network's namespaces at the next extra fds (createNamespaces' extraFds order). */
function podNetworkFdArgs(): string[] {
  return ['-k', String(POD_NETWORK_NET_FD), '-k', String(POD_NETWORK_USERNS_FD)];
}

export async function createSandbox(o: SandboxOptions): Promise<Sandbox> {
  // pause keeps the file open for its whole life; ours (close-on-exec, as Node opens every file)
  // is closed once pause has its copy.
  const exits = openSync(o.exitsFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  let pid: number;
  const start = (join?: PodNetworkJoin) =>
    startInNewNamespaces({
      program: pausePath,
      rootDir: podRootDir(o.podDir),
      root: podRootEntries({ podDir: o.podDir, imageStore: stateDirs().images, runc: runcPath() }),
      argv: ['pause', '-r', '3', '-e', String(EXITS_FD), ...(join ? podNetworkFdArgs() : [])],
      env: [],
      namespaces: o.hostNetwork ? POD_NAMESPACES.filter((n) => n !== 'net') : POD_NAMESPACES,
      hostname: o.hostname,
      mountProc: true,
      giveStatusFd: true,
      dieWithParent: o.dieWithParent ?? false,
      extraFds: join ? [exits, join.net, join.userns] : [exits],
      stdio: [devNullFd(), devNullFd(), null],
      what: `pod "${o.name}": create sandbox`,
      ...(join && { parentUserns: join.userns, uidMap: join.uidMap, gidMap: join.gidMap }),
    });
  try {
    pid = o.podNetwork ? await withPodNetwork(stateDirs().pods, `pod "${o.name}"`, start) : await start();
  } finally {
    closeSync(exits);
  }
  lowerSandboxOomScore(pid);
  traceSandboxStarted(pid);
  const exited = waitForExit(pid);
  return { pid, exited };
}

/**
 * Spawns a program inside the pod (user, mount and PID namespaces); returns its host pid. It dies
 * with this process unless dieWithParent is false (default true).
 */
export function spawnInPod(
  pausePid: number,
  argv: string[],
  o: { env?: string[]; cwd?: string; stdio?: (number | null)[]; dieWithParent?: boolean } = {},
): number {
  return native().spawnInNamespaces({
    pid: pausePid,
    namespaces: ['user', 'mnt', 'pid'],
    argv,
    env: o.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    cwd: o.cwd,
    stdio: o.stdio ?? [devNullFd(), devNullFd(), null],
    dieWithParent: o.dieWithParent ?? true,
  });
}

/** Waits for a child of this process. */
export function waitForExit(pid: number): Promise<{ code: number | null; signal: number | null }> {
  return new Promise((resolve) => native().watchExit(pid, (code, signal) => resolve({ code, signal })));
}

/**
 * Waits until a process that need not be our child has exited (an adopted pod's pause, whose
 * parent is init or a subreaper); resolves at once if it is already gone. How it ended is not
 * known here: its parent reaps it. The caller must know pid is still the process it means (a pid
 * is reused once its process is reaped), e.g. by its start time in /proc/PID/stat.
 */
export function waitForAnyExit(pid: number): Promise<void> {
  return new Promise((resolve) => {
    if (!native().watchPidExit(pid, resolve)) resolve();
  });
}

/** Mounts inside the pod's mount namespace (as root of its user namespace). */
export function mountInPod(pausePid: number, what: string, mounts: NativeMount[], unmounts: string[] = []): void {
  try {
    native().mountInNamespaces(pausePid, unmounts, mounts);
    traceMounts(pausePid, mounts, unmounts);
  } catch (e) {
    throw sandboxError(what, e);
  }
}

export function overlayMount(lower: string, upper: string, work: string, target: string): NativeMount {
  return {
    source: 'overlay',
    target,
    fstype: 'overlay',
    flags: 0,
    data: `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
  };
}

/**
 * Makes dir writable in the pod, whose root shows the pod's directory read-only (pod-root.ts): a
 * bind of dir onto itself, then remounted read-write. dir is then a mount point, which a process
 * that reaches the pod's root cannot rename or replace with a symlink.
 */
export function writableBind(dir: string): NativeMount[] {
  return [
    { source: dir, target: dir, flags: MS.BIND },
    { target: dir, flags: MS.REMOUNT | MS.BIND },
  ];
}

/**
 * A tmpfs. With fsGroup (a memory emptyDir of a pod that has one) its root is born as
 * volume/ownership.ts would make it: group fsGroup, 0777 plus setgid.
 */
export function tmpfsMount(target: string, sizeBytes?: number, fsGroup?: number): NativeMount {
  const size = sizeBytes ? `,size=${sizeBytes}` : '';
  const owner = fsGroup === undefined ? 'mode=0777' : `mode=2777,gid=${fsGroup}`;
  return { source: 'tmpfs', target, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: `${owner}${size}` };
}

export const NAMESPACE_KINDS: NamespaceName[] = ['user', 'net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup'];

/** The inode of each namespace of a process (as `ls -l /proc/PID/ns` shows): equal inode = shared. */
export function namespaceInodes(pid: number): Partial<Record<NamespaceName, number>> {
  const out: Partial<Record<NamespaceName, number>> = {};
  for (const ns of NAMESPACE_KINDS) {
    try {
      out[ns] = statSync(`/proc/${pid}/ns/${ns}`).ino;
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

/**
 * The sandbox is the last a kernel OOM kill should take (containerd's CRI gives it -998). Rootless the
 * value cannot go below the user's own (oom-score.ts): pause then keeps what it inherited.
 */
function lowerSandboxOomScore(pid: number): void {
  const adj = allowedOomScoreAdj(SANDBOX_OOM_SCORE_ADJ);
  try {
    if (Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8')) !== adj)
      writeFileSync(`/proc/${pid}/oom_score_adj`, String(adj));
  } catch {
    /* pause already gone: its exit is reported on its own */
  }
}
