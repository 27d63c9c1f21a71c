import type { Container, Pod } from '../api/types.js';
import type { ProcessUser } from './user.js';
import type { ImageConfig } from '../image/config.js';
import type { OciResources } from '../cgroup/values.js';

/**
 * Manifest + image config → OCI runtime config.json, as a pure function (no kernel, no files),
 * following what containerd's CRI plugin gives a Kubernetes container by default
 * (containerd pkg/cri/opts/spec_linux.go, pkg/oci/spec.go) and the OCI runtime spec
 * (https://github.com/opencontainers/runtime-spec/blob/main/config.md).
 */

/** The parts of an OCI image config a container's process comes from. */
export type ImageProcessConfig = Pick<ImageConfig, 'Entrypoint' | 'Cmd' | 'Env' | 'WorkingDir' | 'User' | 'StopSignal'>;

/** containerd's default capability set for containers (pkg/oci/spec.go defaultUnixCaps). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** containerd's masked and read-only /proc and /sys paths (pkg/oci/spec.go populateDefaultUnixSpec). */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The process's argv by Kubernetes' rules
 * (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes):
 * `command` replaces the image's Entrypoint and drops its Cmd; `args` replaces Cmd.
 */
export function processArgs(c: Pick<Container, 'command' | 'args'>, image: ImageProcessConfig): string[] {
  const entrypoint = c.command ?? image.Entrypoint ?? [];
  const cmd = c.args ?? (c.command ? [] : (image.Cmd ?? []));
  return [...entrypoint, ...cmd];
}

/** Image env, then the container's env (later wins, same name replaced in place), PATH ensured. */
export function mergeEnv(imageEnv: string[], containerEnv: string[], hostname: string): string[] {
  const out = new Map<string, string>();
  const put = (kv: string) => {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    out.set(k, i < 0 ? '' : kv.slice(i + 1));
  };
  put(`PATH=${DEFAULT_PATH}`);
  // containerd sets HOSTNAME before the image and container env (pkg/cri/server/container_create_linux.go).
  put(`HOSTNAME=${hostname}`);
  imageEnv.forEach(put);
  containerEnv.forEach(put);
  return [...out].map(([k, v]) => `${k}=${v}`);
}

export interface MountSource {
  /** host path (inside the pod's mount namespace) to bind */
  source: string;
  destination: string;
  readOnly: boolean;
  /** noexec, nosuid, nodev as well (an image volume: volume/image-volume.ts) */
  noExec?: boolean;
}

export interface ContainerConfigInput {
  pod: Pod;
  container: Container;
  image: ImageProcessConfig;
  /** the overlay mount point of the container's root filesystem */
  rootfs: string;
  /** the container's env from the manifest, already resolved (NAME=value) */
  env: string[];
  user: ProcessUser;
  hostname: string;
  /** /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev/shm of the pod */
  podFiles: { hosts: string; hostname: string; resolvConf: string; shm: string };
  /** volume mounts, already resolved to their sources */
  mounts: MountSource[];
  /** join the pod's PID namespace (shareProcessNamespace) rather than get one of its own */
  sharePid: boolean;
  /** the kubelet's QoS-based oom_score_adj, as far as this user may set it (container/oom-score.ts) */
  oomScoreAdj?: number;
  /** the container instance's cgroup: under its pod's (cgroup/layout.ts), or containerCgroupsPath as root */
  cgroupsPath?: string;
  /** its cpu and memory limits (cgroup/values.ts), given with a cgroupsPath under its pod's cgroup */
  resources?: OciResources;
}

/**
 * Without a cgroupsPath runc names the cgroup after the container id alone, and ids are unique only
 * within a pod: as root, two pods with a container `app` would share /sys/fs/cgroup/<controller>/app.0,
 * and `runc kill --all` or delete of one would signal (or freeze) the other's processes. One path per
 * pod and instance, flat so runc's delete removes all of it: as root, for a pod that could not have
 * its own cgroup (cgroup/pod-limits.ts; a pod that has one nests its containers in it). Rootless it
 * is left out: runc then skips the cgroups it may not create, while a cgroupsPath given is created or
 * fails the container (runc libcontainer/cgroups/fs, rootless handling).
 */
export function containerCgroupsPath(pod: Pod, runcId: string): string {
  return `/podbox-pod${pod.metadata.uid ?? pod.metadata.name}-${runcId}`;
}

const bind = (source: string, destination: string, readOnly: boolean, noExec = false) => ({
  destination,
  type: 'bind',
  source,
  // runc's remount of a bind sets exactly these flags: noexec must be asked for here to stay.
  options: ['rbind', 'rprivate', ...(readOnly ? ['ro'] : ['rw']), ...(noExec ? ['noexec', 'nosuid', 'nodev'] : [])],
});

export function ociConfig(i: ContainerConfigInput): Record<string, unknown> {
  const sc = i.container.securityContext ?? {};
  const caps = new Set(DEFAULT_CAPABILITIES);
  const capName = (c: string) => (c.startsWith('CAP_') ? c : `CAP_${c}`).toUpperCase();
  for (const c of sc.capabilities?.drop ?? []) {
    if (c.toUpperCase() === 'ALL') caps.clear();
    else caps.delete(capName(c));
  }
  for (const c of sc.capabilities?.add ?? []) caps.add(capName(c));
  const capList = [...caps].sort();
  // An unprivileged user keeps no capabilities in the effective/permitted sets (as containerd).
  const effective = i.user.uid === 0 ? capList : [];
  const readOnlyRoot = sc.readOnlyRootFilesystem === true;
  const podTarget = (ns: string) => `/proc/1/ns/${ns}`; // pause is PID 1 of the pod

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: i.user.uid,
        gid: i.user.gid,
        ...(i.user.additionalGids.length ? { additionalGids: i.user.additionalGids } : {}),
      },
      args: processArgs(i.container, i.image),
      env: mergeEnv(i.image.Env ?? [], i.env, i.hostname),
      cwd: i.container.workingDir || i.image.WorkingDir || '/',
      capabilities: { bounding: capList, effective, permitted: effective, inheritable: [], ambient: [] },
      // Kubernetes sets no_new_privs when allowPrivilegeEscalation is false
      // (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      ...(i.oomScoreAdj !== undefined ? { oomScoreAdj: i.oomScoreAdj } : {}),
    },
    root: { path: i.rootfs, readonly: readOnlyRoot },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      // sysfs can be mounted only by who owns the network namespace: under hostNetwork the user's
      // /sys is bound instead, as podman does for a rootless container on the host's network
      // (libpod/container_internal_linux.go, the rootless --network=host case).
      i.pod.spec.hostNetwork
        ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
        : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      // The pod's /dev/shm is shared by its containers, like its IPC namespace.
      bind(i.podFiles.shm, '/dev/shm', false),
      bind(i.podFiles.hosts, '/etc/hosts', readOnlyRoot),
      bind(i.podFiles.hostname, '/etc/hostname', readOnlyRoot),
      bind(i.podFiles.resolvConf, '/etc/resolv.conf', readOnlyRoot),
      ...i.mounts.map((m) => bind(m.source, m.destination, m.readOnly, m.noExec)),
    ],
    annotations: {
      'io.kubernetes.pod.name': i.pod.metadata.name,
      'io.kubernetes.pod.namespace': i.pod.metadata.namespace,
      'io.kubernetes.pod.uid': i.pod.metadata.uid ?? '',
      'io.kubernetes.container.name': i.container.name,
    },
    linux: {
      namespaces: [
        i.sharePid ? { type: 'pid', path: podTarget('pid') } : { type: 'pid' },
        { type: 'mount' },
        { type: 'cgroup' },
        // hostNetwork: no network namespace entry, so the container keeps pause's, the user's (kubelet:
        // the runtime is asked for NamespaceMode_NODE, kuberuntime_sandbox.go).
        ...(i.pod.spec.hostNetwork ? [] : [{ type: 'network', path: podTarget('net') }]),
        { type: 'ipc', path: podTarget('ipc') },
        { type: 'uts', path: podTarget('uts') },
      ],
      ...(i.cgroupsPath ? { cgroupsPath: i.cgroupsPath } : {}),
      ...(i.resources ? { resources: i.resources } : {}),
      // procMount Unmasked: none (securitycontext ConvertToRuntimeMaskedPaths/ReadonlyPaths give empty lists).
      ...(i.container.securityContext?.procMount === 'Unmasked'
        ? { maskedPaths: [], readonlyPaths: [] }
        : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
    },
  };
}
