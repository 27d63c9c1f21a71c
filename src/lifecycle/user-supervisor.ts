import { createServer, type Server, type Socket } from 'node:net';
import { closeSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PodSupervisor, type PodListener } from './supervisor.js';
import { readMessages, send, SUPERVISOR_FILES, type Request } from './supervisor-protocol.js';
import { PodDir, podsDir, isAlive, type LaunchRequest } from '../pod/dir.js';
import type { ForegroundOptions } from '../pod/launch.js';
import type { RunSignals } from './run-signals.js';
import { pollUntil } from '../host/poll.js';
import { collectGarbage } from '../pod/view.js';
import { takeFileLock } from '../host/lock-file.js';
import { PodboxError } from '../errors.js';
import type { TraceEvent } from '../host/trace.js';

/**
 * The user's supervisor: one process supervises all of a user's pods (of one state directory).
 * No system daemon: `podbox run` starts it on demand (lifecycle/supervisor-client.ts), and it exits
 * with the last pod. Why one process and not one per pod: a Node process costs ~40 MB resident,
 * which one pod should not pay, and per-container monitors (podman's conmon) are not needed since
 * pause records every exit (sandbox/exit-records.ts) and container output goes through FIFOs that
 * outlive their reader (container/output.ts).
 *
 * Pods outlive it, as pods outlive a kubelet restart: when it is killed or crashes, the pods keep
 * running, and the next one adopts them (PodSupervisor.adopt) from what is in each pod's directory.
 *
 * Files, in the pods directory (the user's own, mode 0700):
 *   .supervisor.lock  flock(2)ed by the running supervisor: there is never more than one
 *   .supervisor.sock  where commands connect (supervisor-protocol.ts)
 *   .supervisor.log   its stderr (kept only when it has something to say)
 */

/** `podbox __supervisor`: fd 3, when open, gets one word: "ok" (listening) or "busy" (another one runs). */
export async function runUserSupervisor(): Promise<number> {
  const dir = podsDir();
  const tell = (word: string) => {
    try {
      writeSync(3, `${word}\n`);
      closeSync(3);
    } catch {
      /* started without a pipe */
    }
  };
  const lock = takeFileLock(join(dir, SUPERVISOR_FILES.lock));
  if (lock === undefined) {
    tell('busy');
    return 0;
  }
  const supervisor = new UserSupervisor(dir, lock);
  await supervisor.start();
  tell('ok');
  return supervisor.finished;
}

export class UserSupervisor {
  private readonly pods = new Map<string, PodSupervisor>();
  /**
   * Foreground pods that finished while their run was not following (it was reconnecting to this
   * supervisor, which adopted the pod): kept a while with what it missed and the exit status.
   */
  private readonly unfollowed = new Map<string, { pod: PodSupervisor; exitCode: number }>();
  private readonly connections = new Set<Socket>();
  private creating = 0;
  private awaitingFirst?: NodeJS.Timeout;
  private stopping = false;
  private server?: Server;
  /** the pods of earlier supervisors adopted: requests wait for it, or they would not find them */
  private adopted!: Promise<void>;
  private resolveFinished!: (code: number) => void;
  readonly finished = new Promise<number>((r) => (this.resolveFinished = r));

  constructor(
    private readonly dir: string,
    private readonly lock: number,
  ) {}

  private get socketPath(): string {
    return join(this.dir, SUPERVISOR_FILES.socket);
  }

  /** hosted: in a foreground run's own process (hostSupervisor), whose signals are its pod's */
  async start(o: { hosted?: boolean } = {}): Promise<void> {
    if (!o.hosted) {
      // Stopping it (an upgrade, `kill`) leaves the pods running for the next one.
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => this.leave());
      process.on('SIGHUP', () => {});
    }
    rmSync(this.socketPath, { force: true });
    this.server = createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, () => resolve());
    });
    this.adopted = (async () => {
      await collectGarbage();
      for (const d of PodDir.list()) this.adopt(d);
    })();
    await this.adopted;
    if (o.hosted) return;
    // The command that started it connects right after its "ok": wait for it (or for nobody, a while).
    this.awaitingFirst = setTimeout(() => {
      this.awaitingFirst = undefined;
      this.maybeStop();
    }, 5000);
  }

  private adopt(d: PodDir): void {
    let pod: PodSupervisor | undefined;
    try {
      pod = PodSupervisor.adopt(d);
    } catch (e) {
      process.stderr.write(`podbox: pod "${d.name}": cannot adopt it: ${(e as Error).message}\n`);
      return;
    }
    if (!pod) return;
    this.register(pod);
    // A foreground pod whose `podbox run` is gone was to die with it.
    const fg = pod.foreground;
    if (fg && !isAlive(fg)) pod.deleteRequested();
  }

  private register(pod: PodSupervisor): void {
    this.pods.set(pod.name, pod);
    void pod.done.then((exitCode) => {
      if (this.pods.get(pod.name) === pod) this.pods.delete(pod.name);
      if (pod.isForeground && !pod.isFollowed && pod.foreground && isAlive(pod.foreground)) {
        this.unfollowed.set(pod.name, { pod, exitCode });
        setTimeout(() => {
          this.unfollowed.delete(pod.name);
          this.maybeStop();
        }, 10_000);
      }
      this.maybeStop();
    });
  }

  private onConnection(sock: Socket): void {
    this.connections.add(sock);
    if (this.awaitingFirst) clearTimeout(this.awaitingFirst);
    this.awaitingFirst = undefined;
    const followed = new Map<PodSupervisor, PodListener>();
    sock.on('error', () => {});
    sock.on('close', () => {
      this.connections.delete(sock);
      for (const [pod, l] of followed) {
        pod.detach(l);
        // The foreground run that followed it is gone (killed): the pod goes too. (Not when this
        // supervisor cut the connection itself, handing its pods over: the run follows it there.)
        if (pod.isForeground && !this.stopping) pod.deleteRequested();
      }
      this.maybeStop();
    });
    // `created`: a pod that could not be created says so with an error, not as finished.
    const follow = (pod: PodSupervisor, created: Promise<void> = Promise.resolve()): PodListener => {
      const l: PodListener = {
        echo: (container, stream, text) => send(sock, { type: 'echo', container, stream, text }),
        progress: (image, progress) => send(sock, { type: 'progress', image, progress }),
        exited: (container, exitCode) => send(sock, { type: 'exited', container, exitCode }),
        stopping: (container, signal, graceSeconds) =>
          send(sock, { type: 'stopping', container, signal, graceSeconds }),
      };
      followed.set(pod, l);
      void created
        .then(() => pod.done)
        .then(
          (exitCode) => send(sock, { type: 'finished', exitCode, supervisor: process.pid, status: pod.status }),
          () => {},
        )
        .finally(() => followed.delete(pod));
      return l;
    };
    readMessages<Request>(sock, (m) => void this.handle(sock, m, follow));
  }

  private async handle(
    sock: Socket,
    m: Request,
    follow: (pod: PodSupervisor, created?: Promise<void>) => PodListener,
  ): Promise<void> {
    await this.adopted;
    if (this.stopping) return send(sock, { type: 'retry' });
    try {
      switch (m.op) {
        case 'run': {
          this.creating++;
          // --trace: the pod's steps, to the end of the run that follows it, or until created (-d).
          const trace = m.trace ? (event: TraceEvent) => send(sock, { type: 'trace', event }) : undefined;
          try {
            const { pod, created } = PodSupervisor.create(m.request, undefined, { trace });
            if (trace) sock.once('close', () => pod.untrace(trace));
            if (m.follow) pod.attach(follow(pod, created));
            if (!this.pods.has(pod.name)) this.register(pod);
            await created.finally(() => {
              if (trace && !m.follow) pod.untrace(trace);
            });
            send(sock, { type: 'created' });
          } finally {
            this.creating--;
          }
          break;
        }
        case 'follow': {
          const finished = this.unfollowed.get(m.name);
          this.unfollowed.delete(m.name);
          const pod = this.pods.get(m.name) ?? finished?.pod;
          if (!pod) throw notSupervised(m.name);
          pod.attach(follow(pod));
          break;
        }
        case 'delete': {
          const pod = this.pods.get(m.name);
          if (pod) {
            if (m.trace) pod.traceTo((event) => send(sock, { type: 'trace', event }));
            pod.deleteRequested(m.grace);
            await pod.done;
          }
          send(sock, { type: 'deleted', supervisor: process.pid });
          break;
        }
        case 'warn': {
          this.pods.get(m.name)?.warn(m.reason, m.message);
          send(sock, { type: 'recorded' });
          break;
        }
      }
    } catch (e) {
      send(sock, { type: 'error', line: e instanceof PodboxError ? e.toLine() : (e as Error).message });
    }
    this.maybeStop();
  }

  /** With no pod, no command connected and none being created, it exits (the last pod's end). */
  private maybeStop(): void {
    const busy = this.pods.size + this.unfollowed.size + this.creating + this.connections.size;
    if (this.stopping || this.awaitingFirst || busy > 0) return;
    this.stopping = true;
    this.server?.close();
    rmSync(this.socketPath, { force: true });
    rmSync(join(this.dir, SUPERVISOR_FILES.lock), { force: true });
    closeSync(this.lock);
    removeIfEmpty(join(this.dir, SUPERVISOR_FILES.log));
    this.resolveFinished(0);
  }

  /**
   * A foreground run that supervises in its own process: its pod, then the hand-over of whatever
   * other pods it came to supervise meanwhile (other commands found it on the socket). Returns the
   * exit status of the run. `signals` were caught before this supervisor started: one that came
   * already means no pod is made; one that comes later deletes the pod, once it is created if it
   * is being created (PodSupervisor.deleteRequested).
   */
  async runForeground(request: LaunchRequest, o: ForegroundOptions, signals: RunSignals): Promise<number> {
    let code = 1;
    if (signals.exit === undefined) {
      const { pod, created } = PodSupervisor.create(
        request,
        { echo: o.echo, progress: o.progress, exited: o.exited, stopping: o.stopping },
        { dieWithRun: true, trace: o.trace },
      );
      // (A pod of that name already runs, adopted: this one is refused, and that one stays registered.)
      if (!this.pods.has(pod.name)) this.register(pod);
      signals.act = (grace) => pod.deleteRequested(grace);
      try {
        await created;
        code = await pod.done;
        o.finished?.(pod.status);
      } catch (e) {
        // (Interrupted while being created: nothing to say but the exit status.)
        if (signals.exit === undefined) o.fail(e instanceof PodboxError ? e.toLine() : (e as Error).message);
      } finally {
        signals.act = undefined;
      }
    }
    await this.handOver();
    return signals.exit ?? code;
  }

  /**
   * The end of a hosting run: with nothing else to do it stops as any supervisor does; otherwise
   * it hands its pods to a new supervisor process, which adopts them as after a crash: no new
   * request is taken, pods being created are let finish, every pod is released (saved, then left
   * alone), the commands connected are cut off (they reconnect to the successor, and a foreground
   * run follows its pod there), and the lock is freed for the successor.
   */
  private async handOver(): Promise<void> {
    this.maybeStop();
    if (this.stopping) {
      await this.finished;
      return;
    }
    this.stopping = true;
    this.server?.close();
    await pollUntil(() => this.creating === 0, 60_000, 10);
    for (const pod of this.pods.values()) pod.release();
    for (const c of this.connections) c.destroy();
    rmSync(this.socketPath, { force: true });
    rmSync(join(this.dir, SUPERVISOR_FILES.lock), { force: true });
    closeSync(this.lock);
    const { startSupervisor } = await import('./supervisor-client.js');
    await startSupervisor();
    // The released pods' pause watches still hold the event loop: the run ends once it has said
    // its exit status (the macrotask after the command returns it).
    setTimeout(() => process.exit(), 0);
  }

  /** Stopped from outside: the pods keep running; their state is saved for the next supervisor. */
  private leave(): void {
    for (const pod of this.pods.values()) pod.leave();
    process.exit(0);
  }
}

/**
 * A foreground `podbox run` that finds no supervisor becomes the user's supervisor itself, for as
 * long as its pod runs: one Node process instead of two for the common case of one pod. Undefined
 * when another supervisor runs or is starting (then the run is its client).
 */
export async function hostSupervisor(): Promise<UserSupervisor | undefined> {
  const dir = podsDir();
  const lock = takeFileLock(join(dir, SUPERVISOR_FILES.lock));
  if (lock === undefined) return undefined;
  const s = new UserSupervisor(dir, lock);
  await s.start({ hosted: true });
  return s;
}

function notSupervised(name: string): PodboxError {
  return new PodboxError('PodNotFound', `pod "${name}" is not running`, 'list pods with `podbox get`');
}

function removeIfEmpty(file: string): void {
  try {
    if (statSync(file).size === 0) rmSync(file);
  } catch {
    /* not there */
  }
}
