import { existsSync, closeSync, readFileSync, mkdirSync, openSync, fstatSync, unlinkSync, constants } from 'node:fs';
import { join } from 'node:path';
import { spawnInPod, waitForExit } from '../sandbox/sandbox.js';
import { devNullFd, firstRead, readAll, withPipes } from '../host/pipes.js';
import { PodboxError } from '../errors.js';
import { trace } from '../host/trace.js';

/**
 * runc, always started inside the pod's user, mount and PID namespaces: there it is root of the
 * pod's user namespace (the whole id range is usable), it sees the pod's /proc (so
 * /proc/1/ns/net is pause's), and its processes die with pause. Its state lives under the pod.
 */
export function runcPath(): string {
  const chosen = process.env.PODBOX_RUNC;
  if (chosen) {
    // A runc named by the user is that one or none: never silently another.
    if (existsSync(chosen)) return chosen;
    throw new PodboxError(
      'HostNotReady',
      `PODBOX_RUNC names ${chosen}, which does not exist`,
      'set it to the path of a runc binary, or unset it to use the installed runc',
    );
  }
  for (const p of ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']) {
    if (p && existsSync(p)) return p;
  }
  throw new PodboxError('HostNotReady', 'runc is not installed', 'install it: sudo apt-get install runc');
}

/** The runc id of a container's instance: NAME.INSTANCE, so a restart never meets the old state. */
export function containerId(name: string, instance: number): string {
  return `${name}.${instance}`;
}

/**
 * runc's log directory is writable from inside the pod (sandbox/pod-root.ts), so the file there
 * may have been swapped for a symlink into the user's files or for a FIFO: open it without
 * following a symlink and without blocking, and read it only if it is a regular file.
 */
function readLogNoFollow(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return '';
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** How long a short runc command (state, kill, delete, start) may take. */
const RUNC_COMMAND_TIMEOUT_MS = 10_000;

export class Runc {
  constructor(
    readonly pausePid: number,
    readonly stateDir: string,
  ) {
    mkdirSync(`${stateDir}-logs`, { recursive: true });
  }

  private argv(args: string[]): string[] {
    return [runcPath(), '--root', this.stateDir, ...args];
  }

  /**
   * `runc run --detach`: runc creates and starts the container and exits; the container's first
   * process is then re-parented to pause (PID 1 of the pod's PID namespace), whose exit records
   * give its exit status (sandbox/exit-records.ts). No process per container waits for it: podman
   * keeps a conmon per container and containerd a shim; here pause is the pod's only monitor.
   * Its stdout and stderr are passed through to the container (runc's "pass-through" I/O).
   * Returns the host pid of runc; once it exits 0, the pid file holds the container's pid (in the
   * pod's PID namespace). runc's own messages go to a log file, not into the container's stderr.
   */
  runDetached(id: string, bundle: string, stdout: number, stderr: number): number {
    return this.make(['run', '--detach'], id, bundle, stdout, stderr);
  }

  /**
   * `runc create`: all of runDetached but the last step, the container's process waiting in runc
   * init until `runc start` (start). Its pid file and log are runDetached's.
   */
  createDetached(id: string, bundle: string, stdout: number, stderr: number): number {
    return this.make(['create'], id, bundle, stdout, stderr);
  }

  /** `runc start`: the created container's process runs its command. */
  start(id: string): Promise<string> {
    return this.command(['start', id]);
  }

  /**
   * What `runc start` does, without starting a runc (a Go program: about 25 ms of a pod's start on a
   * small machine): the created container's runc init waits, blocked opening the write end of the
   * FIFO exec.fifo in the container's state directory, for a reader; once one reads the byte it
   * writes, it execs the container's command. runc then removes the FIFO, which is how `runc state`
   * tells a running container from a created one (runc's libcontainer/container_linux.go: exec,
   * handleFifoResult, currentStatus). Where there is no such FIFO (another runc), `runc start`.
   * The state directory is under the pod's, which a pod's own root could reach: the FIFO is opened
   * without following a link and without blocking, and used only if it is one.
   */
  async startCreated(id: string): Promise<void> {
    const fifo = join(this.stateDir, id, 'exec.fifo');
    let fd: number;
    try {
      fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch {
      await this.start(id);
      return;
    }
    if (!fstatSync(fd).isFIFO()) {
      closeSync(fd);
      await this.start(id);
      return;
    }
    const read = await firstRead(fd, RUNC_COMMAND_TIMEOUT_MS, { now: true });
    if (!read) throw new PodboxError('RuntimeFailed', 'runc start: container process is already dead', '');
    try {
      unlinkSync(fifo);
    } catch {
      /* gone */
    }
    trace()?.step(
      'runc',
      `${id} released: read what its runc init wrote to exec.fifo (as runc start does); it execs the command`,
      {
        detail: { id },
      },
    );
  }

  private make(verb: string[], id: string, bundle: string, stdout: number, stderr: number): number {
    const argv = [
      runcPath(),
      '--root',
      this.stateDir,
      '--log',
      this.logFile(id),
      '--log-format',
      'json',
      ...verb,
      '--pid-file',
      this.pidFile(id),
      '--bundle',
      bundle,
      id,
    ];
    const pid = spawnInPod(this.pausePid, argv, { stdio: [devNullFd(), stdout, stderr], cwd: bundle });
    trace()?.step(
      'runc',
      `runc ${verb.join(' ')} ${id} (pid ${pid}, in the pod's user, mount and PID namespaces): ` +
        `creates the container from ${bundle}/config.json` +
        (verb[0] === 'create' ? ', its process waiting for runc start' : ' and starts it'),
      { pid, detail: { id, bundle } },
    );
    return pid;
  }

  /** Where runDetached's runc writes the container's pid (beside its log, which only the pod's runc writes). */
  pidFile(id: string): string {
    return `${this.stateDir}-logs/${id}.pid`;
  }

  /** The pid runc wrote for container `id` (in the pod's PID namespace), read without following links. */
  readPid(id: string): number | undefined {
    try {
      const pid = Number(readLogNoFollow(this.pidFile(id)).trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  logFile(id: string): string {
    return `${this.stateDir}-logs/${id}.log`;
  }

  /** The error runc logged for container `id`, if it failed to start it. */
  startError(id: string): string | undefined {
    return Runc.loggedError(this.logFile(id));
  }

  /** Runs a short runc command (kill, delete, state) and returns its output; throws on failure. */
  async command(args: string[]): Promise<string> {
    const {
      value: pid,
      readEnds: [outR, errR],
    } = withPipes(2, ([outW, errW]) =>
      spawnInPod(this.pausePid, this.argv(args), { stdio: [devNullFd(), outW!, errW!] }),
    );
    // (state only reads: no kernel step.)
    if (args[0] !== 'state') trace()?.step('runc', `runc ${args.join(' ')} (pid ${pid})`, { pid, detail: { args } });
    // Bounded: a runc that hangs (on a container left half-made by a supervisor killed while runc
    // made it) must not hold the pod's loop; killing it frees its lock on the container.
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, RUNC_COMMAND_TIMEOUT_MS);
    const [out, err, exit] = await Promise.all([readAll(outR!), readAll(errR!), waitForExit(pid)]).finally(() =>
      clearTimeout(timer),
    );
    if (exit.code !== 0) {
      const msg = err
        .trim()
        .split('\n')
        .pop()
        ?.replace(/^time="[^"]*" level=\w+ msg="?/, '')
        .replace(/"$/, '');
      throw new PodboxError('RuntimeFailed', `runc ${args[0]}: ${msg || `exit ${exit.code ?? exit.signal}`}`, '');
    }
    return out;
  }

  kill(id: string, signal: string, all = false): Promise<string> {
    return this.command(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  /** `runc exec` with the caller's stdio; returns the host pid of runc exec. */
  exec(
    id: string,
    argv: string[],
    o: { stdio: (number | null)[]; env?: string[]; cwd?: string; tty?: boolean; log?: string },
  ): number {
    const args = [
      'exec',
      ...(o.cwd ? ['--cwd', o.cwd] : []),
      ...(o.env ?? []).flatMap((e) => ['--env', e]),
      ...(o.tty ? ['--tty'] : []),
      id,
      ...argv,
    ];
    const log = o.log ? ['--log', o.log, '--log-format', 'json'] : [];
    const pid = spawnInPod(this.pausePid, [runcPath(), '--root', this.stateDir, ...log, ...args], { stdio: o.stdio });
    trace()?.step(
      'runc',
      `runc exec ${id} ${argv.join(' ')} (pid ${pid}): joins every namespace of the container's first process`,
      { pid, detail: { id, argv } },
    );
    return pid;
  }

  /** The last error runc wrote to a JSON log file, without runc's "<verb> failed: " prefix. */
  static loggedError(file: string): string | undefined {
    let text = '';
    try {
      text = readLogNoFollow(file);
    } catch {
      return undefined;
    }
    const errors = text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as { level?: string; msg?: string };
        } catch {
          return {};
        }
      })
      .filter((e) => e.level === 'error' || e.level === 'fatal');
    return errors.at(-1)?.msg?.replace(/^runc \w+ failed: /, '');
  }

  /** The container's init pid as the pod's PID namespace sees it, or undefined if not running. */
  async state(id: string): Promise<{ pid: number; status: string } | undefined> {
    try {
      const s = JSON.parse(await this.command(['state', id]));
      return { pid: s.pid, status: s.status };
    } catch {
      return undefined;
    }
  }
}
