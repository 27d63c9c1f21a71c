import { awaitSupervisorExit, exchange, sendOn } from '../lifecycle/supervisor-client.js';
import type { LaunchRequest } from './dir.js';
import type { LogStream } from '../logs/cri-log.js';
import type { Socket } from 'node:net';
import { RunSignals } from '../lifecycle/run-signals.js';
import { discardPreparedPodNetwork } from '../sandbox/pod-bridge.js';
import type { PullProgress } from '../image/pull.js';
import type { PodStatus } from '../api/status.js';
import type { TraceEvent } from '../host/trace.js';

/**
 * Creating a pod: `podbox run` hands it to the user's supervisor (lifecycle/user-supervisor.ts),
 * which claims its name, makes its sandbox and starts its containers.
 *
 *   podbox run -d                  the user's supervisor (started if none runs)
 *     {op: run, follow: false} ──▶ claims the pod, creates the sandbox, starts the first containers
 *     ◀── created | error          nothing is left behind on error
 *   prints NAME, exits 0 (or the error line, exit 1)
 *
 *   podbox run (foreground)
 *     {op: run, follow: true}  ──▶ as above, then every line of every container, and pulls' progress:
 *     ◀── echo|progress|exited|stopping ... finished  prints them; exits with the pod's exit status
 *     --timeout / --exit-code-from ──▶ {op: delete}, as on SIGINT; exit 124 / NAME's exit code
 *     SIGINT / SIGTERM         ──▶ {op: delete}: the pod is deleted gracefully; exit 130 / 143
 *     (the supervisor restarted) ──▶ {op: follow}: the new one adopted the pod; go on
 *     (this run killed)              its connection closes: the supervisor deletes the pod
 *   --trace: {trace: true} in the request ──▶ ◀── trace (a kernel step, host/trace.ts) among the replies,
 *     printed on stderr: to the end of the pod, or to created with -d
 */

/** `run -d`: returns undefined once the pod is created, or the error line; `trace` gets its steps until then. */
export async function startDetached(
  request: LaunchRequest,
  trace?: (e: TraceEvent) => void,
): Promise<string | undefined> {
  let error: string | undefined;
  const done = await exchange({ op: 'run', request, follow: false, trace: trace !== undefined }, (r) => {
    if (r.type === 'trace') trace?.(r.event);
    if (r.type === 'error') error = r.line;
    return r.type === 'created' || r.type === 'error';
  });
  if (!done) return `the supervisor of pod "${request.pod.metadata.name}" stopped while creating it`;
  return error;
}

export interface ForegroundOptions {
  echo: (container: string, stream: LogStream, text: string) => void;
  /** one line on stderr */
  fail: (line: string) => void;
  /** a pull's progress (drawn on a terminal, a line per layer otherwise) */
  progress?: (image: string, p: PullProgress) => void;
  /** a container terminated */
  exited?: (container: string, exitCode: number) => void;
  /** a container was sent its stop signal and has graceSeconds before SIGKILL */
  stopping?: (container: string, signal: string, graceSeconds: number) => void;
  /** the pod's status once it is torn down */
  finished?: (status: PodStatus) => void;
  /** `--trace`: each kernel step taken for the pod (host/trace.ts) */
  trace?: (e: TraceEvent) => void;
  /**
   * Called once the run catches signals, with how to end it early (`--timeout`, `--exit-code-from`):
   * the pod is deleted gracefully, as on Ctrl-C, and the run exits with `exit`. Returns what undoes it.
   */
  ending?: (end: (exit: number) => void) => () => void;
}

/** The foreground run: follows the pod until it is finished; returns the exit status `podbox run` exits with. */
export async function runForeground(request: LaunchRequest, o: ForegroundOptions): Promise<number> {
  // Caught before anything of the pod is made, by this run or a supervisor for it.
  const signals = new RunSignals();
  const stopEnding = o.ending?.((exit) => signals.end(exit));
  try {
    // No supervisor runs: this run is the supervisor, for as long as its pod runs.
    const { hostSupervisor } = await import('../lifecycle/user-supervisor.js');
    const host = await hostSupervisor();
    if (host) return await host.runForeground(request, o, signals);
    // Another process supervises the pod and makes its sandbox: a pod network made ahead is not used.
    discardPreparedPodNetwork();
    return await followFromSupervisor(request, o, signals);
  } finally {
    stopEnding?.();
    signals.stop();
  }
}

/** A foreground run whose pod another process, the user's supervisor, supervises. */
async function followFromSupervisor(
  request: LaunchRequest,
  o: ForegroundOptions,
  signals: RunSignals,
): Promise<number> {
  const name = request.pod.metadata.name;
  let socket: Socket | undefined;
  let exitCode: number | undefined;
  let failed = false;
  let supervisor: number | undefined;
  // (Interrupted before it asked for the pod: there is nothing to delete.)
  if (signals.exit !== undefined) return signals.exit;
  signals.act = (grace) => {
    if (socket) sendOn(socket, { op: 'delete', name, grace });
  };
  try {
    const onReply = (r: Parameters<Parameters<typeof exchange>[1]>[0], s: Socket): boolean => {
      socket = s;
      switch (r.type) {
        case 'echo':
          o.echo(r.container, r.stream, r.text);
          return false;
        case 'progress':
          o.progress?.(r.image, r.progress);
          return false;
        case 'trace':
          o.trace?.(r.event);
          return false;
        case 'error':
          if (signals.exit === undefined) o.fail(r.line);
          failed = true;
          return true;
        case 'exited':
          o.exited?.(r.container, r.exitCode);
          return false;
        case 'stopping':
          o.stopping?.(r.container, r.signal, r.graceSeconds);
          return false;
        case 'finished':
          exitCode = r.exitCode;
          supervisor = r.supervisor;
          if (r.status) o.finished?.(r.status);
          return true;
        case 'created':
          // A signal that came while the pod was being created.
          if (signals.exit !== undefined) signals.act?.(signals.grace);
          return false;
        default:
          return false;
      }
    };
    let done = await exchange({ op: 'run', request, follow: true, trace: o.trace !== undefined }, onReply);
    // The supervisor went away (killed, upgraded): its successor adopted the pod; follow it there.
    for (let tries = 0; !done && tries < 5; tries++) {
      socket = undefined;
      done = await exchange({ op: 'follow', name }, onReply);
      if (done && failed) {
        // Not running any more: it finished while no supervisor followed it.
        failed = false;
        exitCode ??= 1;
      }
    }
    if (supervisor !== undefined) await awaitSupervisorExit(supervisor);
    if (failed) return 1;
    return signals.exit ?? exitCode ?? 1;
  } finally {
    signals.act = undefined;
  }
}
