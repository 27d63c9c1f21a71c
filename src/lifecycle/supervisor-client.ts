import { spawnDetachedAndAwaitWord } from '../host/detached-child.js';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PodDir, podAlive, podsDir } from '../pod/dir.js';
import { alive } from '../host/proc.js';
import { pollUntil } from '../host/poll.js';
import { projectRoot } from '../paths.js';
import { readMessages, send, SUPERVISOR_FILES, type Reply, type Request } from './supervisor-protocol.js';
import { PodboxError } from '../errors.js';

/**
 * A command's side of the user's supervisor (user-supervisor.ts): connect to it, starting it when
 * none runs (on demand: there is no system daemon), and exchange messages.
 */
export const cliPath = join(projectRoot, 'bin', 'podbox');

/**
 * V8 flags that keep the supervisor small: a young generation of 1 MB semi-spaces instead of 16
 * (it allocates little: a few objects per event), which is most of an idle Node's resident memory;
 * and no JIT (--jitless: V8's interpreter only). Measured rootless with 1 and then 20 sleeping pods,
 * the supervisor grew by 6 MB RSS, 4.5 MB PSS, and all of it was compiled code, its feedback
 * vectors and the pages of the compilers in the node binary, as pod creation turned hot; what it
 * keeps per pod itself is about 15 KB. It waits on the kernel and runc, so interpreting its
 * JavaScript costs it nothing that counts. It has no WebAssembly, which --jitless disables (said
 * as --no-expose-wasm too, or V8 warns about it on stderr, into the supervisor's log).
 */
const SUPERVISOR_NODE_FLAGS = ['--max-semi-space-size=1', '--jitless', '--no-expose-wasm'];

function socketPath(): string {
  return join(podsDir(), SUPERVISOR_FILES.socket);
}

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

/** Starts a supervisor and waits for its word: "ok" (it listens) or "busy" (another one runs or starts). */
export async function startSupervisor(): Promise<string> {
  const args = [...SUPERVISOR_NODE_FLAGS, cliPath, '__supervisor'];
  return (await spawnDetachedAndAwaitWord(args, join(podsDir(), SUPERVISOR_FILES.log))).word;
}

/** A connection to the user's supervisor, started if none runs. */
export async function connectSupervisor(): Promise<Socket> {
  const path = socketPath();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const s = await tryConnect(path);
    if (s) return s;
    const word = await startSupervisor();
    if (word === 'ok') continue;
    // Another command is starting one (or one is stopping): try again shortly.
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new PodboxError(
    'HostNotReady',
    "podbox's supervisor did not start",
    `see ${join(podsDir(), SUPERVISOR_FILES.log)}, and run \`podbox doctor\``,
  );
}

/**
 * Sends one request and hands each reply to `onReply` until it returns true (done) or the
 * connection ends. A "retry" (the supervisor was stopping) sends the request again to a new one.
 * Resolves with whether it was done; false when the supervisor went away first.
 */
export async function exchange(request: Request, onReply: (r: Reply, socket: Socket) => boolean): Promise<boolean> {
  for (;;) {
    const socket = await connectSupervisor();
    const outcome = await new Promise<'done' | 'retry' | 'lost'>((resolve) => {
      let settled = false;
      const settle = (o: 'done' | 'retry' | 'lost') => {
        if (settled) return;
        settled = true;
        resolve(o);
      };
      readMessages<Reply>(socket, (r) => {
        if (r.type === 'retry') return settle('retry');
        if (onReply(r, socket)) settle('done');
      });
      socket.on('close', () => settle('lost'));
      socket.on('error', () => {});
      send(socket, request);
    });
    socket.end();
    socket.destroy();
    if (outcome === 'retry') continue;
    return outcome === 'done';
  }
}

/** Sends a message on a connection an exchange holds (e.g. a deletion while following a pod). */
export function sendOn(socket: Socket, request: Request): void {
  send(socket, request);
}

/**
 * Pods outlive their supervisor: when one was killed or crashed, the next command that looks at
 * pods (get, describe, wait) starts a new one, which adopts them, so their restarts, probes and
 * logs go on. Costs nothing when no pod runs or a supervisor answers.
 */
export async function superviseOrphans(livePods: number): Promise<void> {
  if (livePods === 0) return;
  const s = await tryConnect(socketPath());
  if (s) {
    s.destroy();
    return;
  }
  // Connect once: a supervisor that found nothing to adopt (the pods ended meanwhile) then exits at once.
  if ((await startSupervisor()) === 'ok') (await tryConnect(socketPath()))?.destroy();
}

/**
 * The supervisor exits with the user's last pod, a moment after the command that ended that pod
 * disconnects: that command waits for it (briefly), so nothing of podbox runs once it returns.
 */
export async function awaitSupervisorExit(pid: number): Promise<void> {
  const anyAlive = PodDir.list().some((d) => {
    try {
      return podAlive(d.record(), d.state());
    } catch {
      return false;
    }
  });
  if (!anyAlive) await pollUntil(() => !alive(pid), 2000, 5);
}
