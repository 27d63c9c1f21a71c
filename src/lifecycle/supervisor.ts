import { closeSync, existsSync, readFileSync } from 'node:fs';
import type { Manifest, Container } from '../spec/types.js';
import type { HandlerTarget } from './handlers.js';
import { pollUntil } from '../poll.js';
import { containerEnv, expandCommand } from '../spec/manifest.js';
import type { StoredImage } from '../image/store.js';
import { PodMachine, PROBE_FIELD, podRef, type Action } from './pod-machine.js';
import { backoffPolicy, systemClock } from './timing.js';
import { createSandbox, mountInPod, tmpfsMount, type Sandbox } from '../sandbox/sandbox.js';
import { native } from '../sandbox/native.js';
import { removeTrees } from '../sandbox/userns.js';
import { Runc } from '../container/runc.js';
import { mountRootfs, writeConfig, readImageFile, configError } from '../container/bundle.js';
import { ociConfig, resolveUser } from '../container/oci-config.js';
import { writePodFiles, podHostname, type PodFiles } from '../container/pod-files.js';
import { prepareVolumes, type PreparedVolume } from '../container/volumes.js';
import { containerMounts } from '../container/subpath.js';
import { LogSink, type LogStream } from '../logs/cri-log.js';
import { PodDir, DELETE_REQUEST_FILE, type RuntimeInfo } from '../store/pods.js';
import { PodboxError } from '../errors.js';

/**
 * The supervisor of one pod: it performs what the pod's state machine decides, against the
 * kernel and runc, and feeds back what happened. A foreground `podbox run` is the supervisor;
 * `podbox run -d` starts one in the background. When it dies, the pod dies with it (pause has
 * PR_SET_PDEATHSIG, and everything of the pod is in pause's PID namespace).
 */
export interface SuperviseOptions {
  manifest: Manifest;
  dir: PodDir;
  /** container name → its image, resolved before the sandbox is made */
  images: Map<string, StoredImage>;
  removeWhenDone: boolean;
  /** foreground: print each line of each container */
  echo?: (container: string, stream: LogStream, text: string) => void;
  /** called once the pod is created and its first containers are started (or it failed to) */
  onCreated?: (error?: PodboxError) => void;
}

/** The pod has no network but loopback yet: its IP is 127.0.0.1. */
const POD_IP = '127.0.0.1';
const HOST_IP = '127.0.0.1';


export async function supervise(o: SuperviseOptions): Promise<number> {
  const { manifest, dir } = o;
  const pod = manifest.pod;
  const machine = new PodMachine(pod, systemClock, backoffPolicy(), HOST_IP, POD_IP);
  const runtime: RuntimeInfo = { containers: {}, finished: false };
  const save = () => {
    if (!existsSync(dir.path)) return;
    dir.writeState({ status: machine.status(), runtime });
    dir.writeEvents(machine.eventLog());
  };
  let sandbox: Sandbox | undefined;
  let runc: Runc;
  let podFiles: PodFiles;
  let volumes: Map<string, PreparedVolume>;
  let signalExit: number | undefined;
  let tearingDown = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const sinks = new Set<Promise<void>>();
  const currentSinks = new Map<string, LogSink>();

  const teardown = async () => {
    tearingDown = true;
    if (wakeTimer) clearTimeout(wakeTimer);
    if (sandbox) {
      // pause exits on SIGTERM; the kernel then kills whatever is left in the pod's PID namespace,
      // and the mount namespace, with every overlay and tmpfs of the pod, goes with the last process.
      try { process.kill(sandbox.pid, 'SIGTERM'); } catch { /* already gone */ }
      await sandbox.exited;
    }
    await Promise.all(sinks);
    runtime.finished = true;
    runtime.exitCode = signalExit ?? machine.exitCode();
    save();
    if (o.removeWhenDone) {
      await removeTrees([dir.path]);
    } else {
      // Keep status, events and logs until `podbox delete`; drop what only a running pod needs.
      await removeTrees(['containers', 'volumes', 'runc', 'runc-logs', 'shm', 'root'].map((d) => dir.file(d)));
    }
    resolveDone();
  };

  const onSignal = (sig: NodeJS.Signals) => {
    if (tearingDown) return;
    if (signalExit === undefined) signalExit = sig === 'SIGINT' ? 130 : 143;
    let grace = pod.spec.terminationGracePeriodSeconds;
    try {
      const req = JSON.parse(readFileSync(dir.file(DELETE_REQUEST_FILE), 'utf8')) as { gracePeriodSeconds?: number };
      if (typeof req.gracePeriodSeconds === 'number') grace = req.gracePeriodSeconds;
    } catch { /* a plain signal: the pod's own grace period */ }
    // A second Ctrl-C does not wait for the grace period.
    if (machine.isDeleting() && sig === 'SIGINT') grace = 0;
    machine.deleteRequested(grace);
    kick();
  };

  const perform = async (a: Action) => {
    switch (a.type) {
      case 'start':
        await startContainer(a.container, a.instance);
        break;
      case 'probe':
      case 'hook':
        // Probes and hooks run beside the pod's other work; their result comes back as an event.
        // A handler that throws (it should not) counts as failed, so the machine never waits on it.
        void runHandler(a)
          .catch((e: Error) => {
            if (a.type === 'probe') machine.probeResult(a.container, a.instance, a.probe, false, e.message);
            else machine.hookDone(a.container, a.instance, a.hook, false, e.message);
          })
          .then(kick);
        break;
      case 'kill':
        await killContainer(a.container, a.signal);
        break;
      case 'teardown':
        await teardown();
        break;
    }
  };

  let chain = Promise.resolve();
  const pump = async () => {
    if (tearingDown) return;
    for (let actions = machine.actions(); actions.length; actions = machine.actions()) {
      for (const a of actions) await perform(a);
      if (tearingDown) return;
    }
    save();
    if (wakeTimer) clearTimeout(wakeTimer);
    const at = machine.wakeAt();
    if (at !== undefined) wakeTimer = setTimeout(kick, Math.max(0, at - Date.now()));
  };
  const kick = () => {
    chain = chain.then(pump).catch(async (e) => {
      process.stderr.write(`podbox: pod "${pod.metadata.name}": ${e instanceof PodboxError ? e.toLine() : (e as Error).stack}\n`);
      if (!tearingDown) await teardown();
    });
  };

  const spec = (name: string): Container =>
    [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name)!;

  const startContainer = async (name: string, instance: number) => {
    const c = spec(name);
    const image = o.images.get(name)!;
    const id = `${name}.${instance}`;
    let sink: LogSink | undefined;
    try {
      const bundle = await mountRootfs(sandbox!.pid, dir.path, name, image.rootfs);
      const sc = { ...pod.spec.securityContext, ...c.securityContext };
      const user = resolveUser(image.config.User, readImageFile(image.rootfs, 'etc/passwd'), readImageFile(image.rootfs, 'etc/group'), {
        runAsUser: sc.runAsUser, runAsGroup: sc.runAsGroup,
        // fsGroup is added to every container's groups (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).
        supplementalGroups: [...pod.spec.securityContext.supplementalGroups ?? [], ...pod.spec.securityContext.fsGroup !== undefined ? [pod.spec.securityContext.fsGroup] : []],
      });
      if (typeof user === 'string') throw configError(name, user);
      // runAsNonRoot (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/)
      if (sc.runAsNonRoot && user.uid === 0) throw configError(name, 'runAsNonRoot is set but the image runs as root (uid 0)');
      const mounts = containerMounts({ pausePid: sandbox!.pid, podDir: dir.path, container: c, volumes, user });
      const env = containerEnv(c, manifest, { podIP: POD_IP, hostIP: HOST_IP });
      writeConfig(bundle, ociConfig({
        pod, container: expandCommand(c, env), image: image.config, rootfs: bundle.rootfs, env,
        user, hostname: podHostname(pod), podFiles, mounts,
        sharePid: pod.spec.shareProcessNamespace === true,
      }));
      const n = native();
      const [outR, outW] = n.pipe();
      const [errR, errW] = n.pipe();
      let pid: number;
      try {
        pid = runc.run(id, bundle.dir, outW, errW);
      } catch (e) {
        closeSync(outR); closeSync(errR);
        throw e;
      } finally {
        closeSync(outW); closeSync(errW);
      }
      sink = new LogSink(dir.logFile(name, instance), o.echo && ((stream, text) => o.echo!(name, stream, text)));
      sink.attach('stdout', outR);
      sink.attach('stderr', errR);
      const closed = sink.closed();
      sinks.add(closed);
      currentSinks.set(name, sink);
      runtime.containers[name] = { runcPid: pid, instance };
      machine.started(name, `runc://${id}`);
      void native().watchExit(pid, async (code, signal) => {
        await closed;
        sinks.delete(closed);
        delete runtime.containers[name]?.runcPid;
        const startError = code !== 0 ? runc.startError(id) : undefined;
        if (startError) {
          // runc could not start it: the kubelet's StartError (exit code 128).
          o.echo?.(name, 'stderr', `podbox: cannot start container: ${startError}`);
          machine.startFailed(name, startError);
        } else {
          // runc run exits with the container's status, 128+N when a signal N killed it.
          machine.exited(name, code ?? 128 + (signal ?? 0));
        }
        kick();
      });
    } catch (e) {
      const msg = e instanceof PodboxError ? e.message : (e as Error).message;
      machine.startFailed(name, msg);
      if (o.echo) o.echo(name, 'stderr', `podbox: cannot start container: ${msg}`);
    }
  };

  /** runc ids known to be running: `runc run` returns before the process exists, and an exec needs it. */
  const knownRunning = new Set<string>();
  const untilRunning = async (id: string) => {
    if (knownRunning.has(id)) return;
    if (await pollUntil(async () => (await runc.state(id))?.status === 'running', 10_000, 20)) knownRunning.add(id);
  };

  /** Runs a probe or hook for the machine and reports its result (src/lifecycle/handlers.ts does the work). */
  const runHandler = async (a: Extract<Action, { type: 'probe' | 'hook' }>) => {
    // Loaded on first use: http, https, http2 and tls cost a pod without probes or hooks nothing.
    const { runProbe, runHook, hookFailureMessage } = await import('./handlers.js');
    const c = spec(a.container);
    const id = `${a.container}.${a.instance}`;
    const target: HandlerTarget = { pausePid: sandbox!.pid, runc, containerId: id, container: c, podIP: POD_IP };
    if (a.type === 'probe') {
      const probe = c[PROBE_FIELD[a.probe]]!;
      if (probe.exec) await untilRunning(id);
      const r = await runProbe(probe, target);
      machine.probeResult(a.container, a.instance, a.probe, r.ok, r.message);
      return;
    }
    const handler = c.lifecycle![a.hook]!;
    if (handler.exec) await untilRunning(id);
    const r = await runHook(handler, target, a.timeoutSeconds);
    // Hook output goes to the container's log, marked (the kubelet drops it; users want it).
    const sink = currentSinks.get(a.container);
    for (const line of (r.output ?? '').split('\n').filter(Boolean)) sink?.line('stdout', `[${a.hook} hook] ${line}`);
    machine.hookDone(a.container, a.instance, a.hook, r.ok, r.ok ? '' : hookFailureMessage(handler, a.container, podRef(pod), r));
  };

  const killContainer = async (name: string, signal: 'SIGTERM' | 'SIGKILL') => {
    const info = runtime.containers[name];
    if (!info?.runcPid) return;
    // The image's STOPSIGNAL replaces SIGTERM (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/).
    const image = o.images.get(name);
    const sig = signal === 'SIGTERM' ? image?.config.StopSignal || 'SIGTERM' : 'SIGKILL';
    await runc.kill(`${name}.${info.instance}`, sig).catch(() => { /* it exited meanwhile */ });
  };

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    save();
    sandbox = await createSandbox({ hostname: podHostname(pod), name: pod.metadata.name, podDir: dir.path });
    runtime.pausePid = sandbox.pid;
    runc = new Runc(sandbox.pid, dir.file('runc'));
    podFiles = writePodFiles(dir.path, pod, POD_IP);
    const prepared = prepareVolumes(dir.path, manifest);
    volumes = prepared.volumes;
    mountInPod(sandbox.pid, `pod "${pod.metadata.name}": mount /dev/shm and memory volumes`, [tmpfsMount(podFiles.shm, 64 * 1024 * 1024), ...prepared.mounts]);
    machine.sandboxReady();
    for (const [name, img] of o.images) machine.imageResolved(name, img.id);
    void sandbox.exited.then(() => {
      if (tearingDown) return;
      process.stderr.write(`podbox: pod "${pod.metadata.name}": its pause process died; stopping the pod\n`);
      machine.deleteRequested(0);
      kick();
    });
  } catch (e) {
    await teardown();
    const err = e instanceof PodboxError ? e : new PodboxError('SandboxFailed', `pod "${pod.metadata.name}": ${(e as Error).message}`, 'run `podbox doctor`');
    o.onCreated?.(err);
    throw err;
  }
  kick();
  await chain;
  o.onCreated?.();
  await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return signalExit ?? machine.exitCode();
}
