import type { Socket } from 'node:net';
import type { LaunchRequest, ProcessRef } from '../pod/dir.js';
import type { LogStream } from '../logs/cri-log.js';
import type { PullProgress } from '../image/pull.js';
import type { PodStatus } from '../api/status.js';
import type { TraceEvent } from '../host/trace.js';

/**
 * What `podbox` commands and the user's supervisor say to each other, one JSON object a line over
 * the supervisor's Unix socket (pods dir/.supervisor.sock, in the user's private state dir: only
 * the user can connect).
 *
 *   run       {op: run, request, follow}  ─▶  created | error; then, when following: echo|progress|exited|stopping...
 *                                             finished
 *   follow    {op: follow, name}          ─▶  echo|progress|exited|stopping... finished  (again, after a supervisor
 *                                             restart)
 *   delete    {op: delete, name, grace?}  ─▶  deleted | error       (once the pod is torn down)
 *   trace: true on run or delete          ─▶  trace... among the replies: the pod's kernel steps as they are taken
 *                                             (host/trace.ts), until created (run -d), finished or deleted
 *   warn      {op: warn, name, reason, message} ─▶ recorded        (a Warning event on the pod: `podbox serve`)
 *   retry                                  ◀─  the supervisor is stopping: start a new one and ask again
 *
 * A connection that follows a foreground pod (`podbox run` without -d) is that run: when it closes
 * before the pod finished, the run is gone (killed), and the pod is deleted, as a foreground
 * pod has always died with its run.
 */
export type Request =
  | { op: 'run'; request: LaunchRequest; follow: boolean; foreground?: ProcessRef; trace?: boolean }
  | { op: 'follow'; name: string }
  | { op: 'delete'; name: string; grace?: number; trace?: boolean }
  | { op: 'warn'; name: string; reason: string; message: string };

export type Reply =
  | { type: 'created' }
  | { type: 'error'; line: string }
  | { type: 'echo'; container: string; stream: LogStream; text: string }
  /** how a pull of the followed pod's goes (image/pull.ts), throttled (lifecycle/image-puller.ts) */
  | { type: 'progress'; image: string; progress: PullProgress }
  /** a container of the followed pod terminated (`run --exit-code-from`) */
  | { type: 'exited'; container: string; exitCode: number }
  /** a container of the followed pod was sent its stop signal; SIGKILL follows after graceSeconds */
  | { type: 'stopping'; container: string; signal: string; graceSeconds: number }
  /** `status`: the pod's status once torn down (the summary a foreground run prints) */
  | { type: 'finished'; exitCode: number; supervisor: number; status?: PodStatus }
  | { type: 'deleted'; supervisor: number }
  /** a kernel step taken for the pod (`run --trace`, `delete` with PODBOX_TRACE) */
  | { type: 'trace'; event: TraceEvent }
  | { type: 'recorded' }
  | { type: 'retry' };

/** The supervisor's files in the pods directory (user-supervisor.ts). */
export const SUPERVISOR_FILES = { lock: '.supervisor.lock', socket: '.supervisor.sock', log: '.supervisor.log' };

/** Calls `onMessage` with each JSON line that arrives on `socket`. */
export function readMessages<T>(socket: Socket, onMessage: (m: T) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      let m: T;
      try {
        m = JSON.parse(line) as T;
      } catch {
        socket.destroy();
        return;
      }
      onMessage(m);
    }
  });
}

export function send(socket: Socket, m: Request | Reply): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(m)}\n`);
}
