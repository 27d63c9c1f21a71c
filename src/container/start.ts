import type { Manifest } from '../api/types.js';
import { containerEnv, expandCommand } from '../api/env.js';
import { nodeAllocatable } from '../api/resource-field.js';
import { allowedOomScoreAdj, containerOomScoreAdj } from './oom-score.js';
import { containerNamed } from '../api/containers.js';
import { HOST_IP, POD_IP } from '../api/node.js';
import type { StoredImage } from '../image/store.js';
import type { PodFiles } from '../sandbox/pod-files.js';
import { podHostname } from '../sandbox/pod-files.js';
import type { PreparedVolume } from '../volume/volumes.js';
import { closeSync } from 'node:fs';
import { waitForExit } from '../sandbox/sandbox.js';
import { openContainerOutput, openOutputForReading, removeContainerOutput } from './output.js';
import { LogSink, type LogStream } from '../logs/cri-log.js';
import { mountRootfs, writeConfig, readImageFile, ContainerConfigError } from './bundle.js';
import { ociConfig, containerCgroupsPath, type MountSource } from './oci-config.js';
import { processUser } from './user.js';
import { containerMounts } from '../volume/subpath.js';
import { bindHostVolumes } from '../volume/host-path.js';
import { terminationMessageMount } from './termination-message.js';
import { containerId, type Runc } from './runc.js';
import { traceBundle, traceContainerStarted } from './trace-bundle.js';
import { containerLimits, type PodLimits } from '../cgroup/pod-limits.js';
import { containerCgroupPath } from '../cgroup/layout.js';

/**
 * Starting one container of a running pod, as the kubelet's startContainer (kuberuntime_container.go)
 * is kept apart from SyncPod:
 *  1. mount a fresh overlay root filesystem over the image (container/bundle.ts)
 *  2. decide the user it runs as (container/user.ts: runAsUser, runAsNonRoot, fsGroup...)
 *  3. map its volumeMounts to the pod's volumes
 *  4. build its env and write config.json (container/oci-config.ts)
 *  5. `runc run --detach` it inside the pod, its stdout and stderr through FIFOs (container/output.ts)
 *     into its log (logs/cri-log.ts)
 * A container that cannot be made throws a ContainerConfigError (CreateContainerConfigError,
 * CreateContainerError); another failure before runc runs throws a PodboxError; runc failing to
 * start it throws a RuncStartError (the kubelet's StartError).
 */
export interface PodContext {
  manifest: Manifest;
  /** the pod's directory */
  podDir: string;
  pausePid: number;
  runc: Runc;
  podFiles: PodFiles;
  volumes: Map<string, PreparedVolume>;
  /** the pod's IP (sandbox/network.ts); loopback when unset */
  podIP?: string;
  /** settles when the pod's network stack is up, or failed to come up: runc waits for it */
  networkReady?: Promise<void>;
  /** the pod's cgroups, or why its limits are not enforced (cgroup/pod-limits.ts) */
  limits?: PodLimits;
}

export interface StartedContainer {
  /** the container's first process in the pod's PID namespace (as pause's exit records name it) */
  pid: number;
  sink: LogSink;
}

export async function startContainer(
  pod: PodContext,
  name: string,
  instance: number,
  image: StoredImage,
  log: { file: string; echo?: (stream: LogStream, text: string) => void; onLost?: (lines: number, e: Error) => void },
): Promise<StartedContainer> {
  const spec = pod.manifest.pod;
  const c = containerNamed(spec, name);

  // The pod's host volumes are bound before any of its containers is made (host-path.ts); a
  // VolumeMountError leaves this one waiting, as the kubelet's volume manager does.
  bindHostVolumes(pod.pausePid, pod.volumes.values());

  // Step 1: root filesystem.
  const bundle = await mountRootfs(pod.pausePid, pod.podDir, name, image.rootfs);

  // Step 2: the user.
  const user = processUser(spec, c, {
    user: image.config.User,
    passwd: readImageFile(image.rootfs, 'etc/passwd'),
    group: readImageFile(image.rootfs, 'etc/group'),
  });
  if ('reason' in user) throw new ContainerConfigError(name, user.reason, user.message);

  // Step 3: volumes.
  // A subPath is resolved inside its volume by the kernel and bound by descriptor (subpath.ts).
  const mounts: MountSource[] = containerMounts({
    pausePid: pod.pausePid,
    podDir: pod.podDir,
    container: c,
    volumes: pod.volumes,
    user,
  });

  // The termination message file goes last, so it may sit inside a volume (makeMounts).
  mounts.push(terminationMessageMount(pod.podDir, c));

  // Step 4: env and config.json.
  const node = nodeAllocatable(pod.podDir);
  const env = containerEnv(c, pod.manifest, { podIP: pod.podIP ?? POD_IP, hostIP: HOST_IP }, node);
  writeConfig(
    bundle,
    ociConfig({
      pod: spec,
      container: expandCommand(c, env),
      image: image.config,
      rootfs: bundle.rootfs,
      env,
      user,
      hostname: podHostname(spec),
      podFiles: pod.podFiles,
      mounts,
      sharePid: spec.spec.shareProcessNamespace === true,
      oomScoreAdj: allowedOomScoreAdj(containerOomScoreAdj(spec, c, node.memory)),
      cgroupsPath: cgroupsPathOf(pod, containerId(name, instance)),
      resources: containerLimits(pod.limits, c),
    }),
  );
  traceBundle(pod.pausePid, pod.podDir, name);

  // Step 5: runc run --detach, output into the log, once the pod has its network, as the kubelet
  // starts containers after RunPodSandbox has set it up (kuberuntime_manager.go SyncPod).
  const id = containerId(name, instance);
  const networkComing = !(await networkSettled(pod.networkReady));
  if (!networkComing) await pod.networkReady;
  const out = openContainerOutput(pod.podDir, id);
  const sink = attachOutput(pod.podDir, id, log);
  let exit: { code: number | null; signal: number | null } | undefined;
  let failed: { error: unknown } | undefined;
  try {
    exit = networkComing
      ? await createThenStartOnNetwork(pod, name, id, bundle.dir, out)
      : await waitForExit(pod.runc.runDetached(id, bundle.dir, out.stdout, out.stderr));
  } catch (error) {
    failed = { error };
  } finally {
    closeSync(out.stdout);
    closeSync(out.stderr);
  }
  if (failed) {
    await sink.closed();
    removeContainerOutput(pod.podDir, id);
    throw failed.error;
  }
  exit = exit!; // assigned: the try did not throw
  const pid = exit.code === 0 ? pod.runc.readPid(id) : undefined;
  if (pid === undefined) {
    await sink.closed();
    removeContainerOutput(pod.podDir, id);
    throw new RuncStartError(
      name,
      pod.runc.startError(id) ?? `runc run exited with ${exit.code ?? `signal ${exit.signal}`}`,
    );
  }
  traceContainerStarted(pod.pausePid, name, id, pid);
  return { pid, sink };
}

/** Under the pod's cgroup where it has one; as root without one, a path of its own (containerCgroupsPath). */
function cgroupsPathOf(pod: PodContext, runcId: string): string | undefined {
  if (pod.limits && 'cgroup' in pod.limits) return containerCgroupPath(pod.limits.cgroup.pod, runcId);
  return process.getuid?.() === 0 ? containerCgroupsPath(pod.manifest.pod, runcId) : undefined;
}

/**
 * Whether the pod's network has come up, or failed to (no stack: at once). A promise already
 * settled runs its callbacks among the microtasks, before the event loop's next turn (setImmediate).
 */
function networkSettled(ready: Promise<void> | undefined): Promise<boolean> {
  if (!ready) return Promise.resolve(true);
  const settled = ready.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, new Promise<boolean>((r) => setImmediate(() => r(false)))]);
}

/**
 * While the pod's stack is still coming up (pasta takes tens of milliseconds), `runc create` does
 * runc's work on the container meanwhile, and its process is released once the network is up (as
 * `runc start` does: Runc.startCreated): the container's own command never runs before the pod has
 * its network. If the network
 * fails, the created container is deleted and the network's error thrown. Resolves as runc create exited.
 */
async function createThenStartOnNetwork(
  pod: PodContext,
  name: string,
  id: string,
  bundle: string,
  out: { stdout: number; stderr: number },
): Promise<{ code: number | null; signal: number | null }> {
  const created = await waitForExit(pod.runc.createDetached(id, bundle, out.stdout, out.stderr));
  try {
    await pod.networkReady;
  } catch (e) {
    if (created.code === 0) await pod.runc.command(['delete', '--force', id]).catch(() => {});
    throw e;
  }
  if (created.code !== 0) return created;
  try {
    await pod.runc.startCreated(id);
  } catch (e) {
    await pod.runc.command(['delete', '--force', id]).catch(() => {});
    throw new RuncStartError(name, pod.runc.startError(id) ?? (e as Error).message);
  }
  return created;
}

/** runc could not start the container: the kubelet's StartError (exit code 128). */
export class RuncStartError extends Error {
  constructor(
    readonly container: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The reader of a container instance's output FIFOs into its log: made before the container runs
 * and again by a supervisor that adopts a running pod.
 */
export function attachOutput(
  podDir: string,
  id: string,
  log: { file: string; echo?: (stream: LogStream, text: string) => void; onLost?: (lines: number, e: Error) => void },
): LogSink {
  const sink = new LogSink(log.file, log.echo, { onLost: log.onLost });
  for (const stream of ['stdout', 'stderr'] as const) {
    const fd = openOutputForReading(podDir, id, stream);
    if (fd !== undefined) sink.attach(stream, fd);
  }
  return sink;
}
