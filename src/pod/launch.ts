import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PodDir, type LaunchRequest } from './dir.js';
import { supervise } from '../lifecycle/supervisor.js';
import { imagesById } from '../image/resolve.js';
import { PodboxError } from '../errors.js';
import { projectRoot } from '../paths.js';

/**
 * Creating a pod and supervising it, in the foreground or in the background. Whichever process
 * supervises the pod is the one that claims its name (lifecycle/supervisor.ts, step 0): it writes
 * the record, naming itself, before any process of the pod exists, and it has its signal handlers
 * in place before that, so a `podbox delete` always reaches the pod's one supervisor.
 *
 * `podbox run -d` hands the pod to a background supervisor and waits for one word from it:
 *
 *   podbox run -d ──spawn──▶ podbox __supervise      (own session; stdin: the pod's launch request;
 *        │                        │                  fd 3: the pipe back; stdout and stderr: the
 *        │                        │                  pods dir's .launch-NAME.PID.log)
 *        │                        claims the pod (supervisor = itself), moves the log to
 *        │                        NAME/supervisor.log, creates the sandbox, starts containers
 *        │◀── "ok\n" ──────────── pod created, first containers started
 *        │◀── "error: LINE\n" ─── the pod could not be created; nothing is left behind
 *        │◀── (exit, no word) ─── it died: the launch log says why (kept if it is not empty)
 *   prints NAME and exits 0, or the error line and exits 1
 */

const cliPath = join(projectRoot, 'bin', 'podbox');

/**
 * `run -d`: starts the supervisor in the background and waits for its word. Returns undefined once
 * the pod is created, or the error line.
 */
export async function startDetached(request: LaunchRequest): Promise<string | undefined> {
  const name = request.pod.metadata.name;
  const logPath = PodDir.launchLog(name);
  const log = openSync(logPath, 'wx', 0o600);
  const child = spawn(process.execPath, [cliPath, '__supervise', String(process.pid)], {
    detached: true,
    stdio: ['pipe', log, log, 'pipe'],
    env: process.env,
  });
  closeSync(log);
  child.stdin!.end(JSON.stringify(request));
  const word = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (text += d));
    pipe.on('end', () => resolve(text));
    child.on('exit', (code) => resolve(text || `error: the supervisor of pod "${name}" exited with code ${code}`));
  });
  child.unref();
  (child.stdio[3] as unknown as { destroy(): void }).destroy();
  if (word.startsWith('ok')) return undefined;
  // Not created: the launch log was not adopted by a pod. Keep it only if it says something more
  // than the error this command prints: read once the supervisor, which prints it too, has exited.
  await exited(child, 5_000);
  const line = word.replace(/^error: /, '').trim();
  let said = '';
  try {
    said = readFileSync(logPath, 'utf8').trim();
  } catch {
    /* adopted or gone */
  }
  if (!said || said === `podbox: ${line}`) rmSync(logPath, { force: true });
  return said && !word.startsWith('error: ') ? `${line}; see ${logPath}` : line;
}

/** Resolves when `child` has exited, or after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `podbox __supervise PARENT_PID`: the background supervisor's side of the handshake. */
export async function superviseDetached(parentPid: number): Promise<number> {
  let told = false;
  const tell = (text: string) => {
    if (told) return;
    told = true;
    try {
      writeSync(3, text); // fd 3 is the pipe to `podbox run -d`, waiting for this word
      closeSync(3);
    } catch {
      /* the parent is gone */
    }
  };
  try {
    const request = JSON.parse(readFileSync(0, 'utf8')) as LaunchRequest;
    return await supervise({
      request,
      images: imagesById(request.images),
      launchedBy: parentPid,
      onCreated: (e) => tell(e ? `error: ${e.toLine()}\n` : 'ok\n'),
    });
  } catch (e) {
    tell(`error: ${e instanceof PodboxError ? e.toLine() : (e as Error).message}\n`);
    throw e;
  }
}
