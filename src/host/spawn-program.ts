import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../sandbox/native.js';
import { devNullFd, readAll, withPipes } from './pipes.js';

/**
 * Host programs podbox runs on the way to a pod (newuidmap, newgidmap, pasta), started by
 * posix_spawn (the addon's spawnProgram) rather than child_process, which forks all of Node first:
 * measured on a 2-CPU VM, about 8 ms of a busy event loop per program, three or four per pod start.
 */

/** Where `name` is, as execvp looks for it on PATH (a name with a slash is itself); undefined if nowhere. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = join(dir || '.', name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** How a program ended, and what it said on stderr. */
export interface ProgramEnd {
  code: number | null;
  signal: number | null;
  stderr: string;
}

/** An Error as child_process gives one for a program that is not there: code ENOENT. */
function notFound(name: string): Error {
  return Object.assign(new Error(`spawn ${name} ENOENT`), { code: 'ENOENT' });
}

/**
 * Starts a program (argv[0] found on PATH unless `path` says where it is) with stdio as given (fd
 * i of the child: stdio[i]; stdin and stdout default to /dev/null, stderr is inherited). Returns its
 * pid: a child of this process, which the caller reaps (native().watchExit). Throws when it cannot
 * be started (.code ENOENT when it is not there).
 */
export function startProgram(
  argv: string[],
  o: { path?: string; env?: NodeJS.ProcessEnv; stdio?: number[]; newSession?: boolean } = {},
): number {
  const env = o.env ?? process.env;
  const path = o.path ?? onPath(argv[0]!, env);
  if (!path) throw notFound(argv[0]!);
  const stdio = o.stdio ?? [];
  return native().spawnProgram({
    path,
    argv,
    env: Object.entries(env).map(([k, v]) => `${k}=${v ?? ''}`),
    stdio: [stdio[0] ?? devNullFd(), stdio[1] ?? devNullFd(), ...stdio.slice(2)],
    newSession: o.newSession,
  });
}

/**
 * Runs a program until its stderr ends and it has exited (stdin and stdout /dev/null); argv[0] is
 * found on PATH unless `path` says where the program is (argv[0] then is only its name). Throws only
 * when it cannot be started (.code ENOENT when it is not there). Killed (SIGKILL) after timeoutMs.
 */
export async function runProgram(
  argv: string[],
  o: { path?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProgramEnd> {
  const {
    value: pid,
    readEnds: [errR],
  } = withPipes(1, ([errW]) => startProgram(argv, { ...o, stdio: [devNullFd(), devNullFd(), errW!] }));
  const exited = new Promise<{ code: number | null; signal: number | null }>((resolve) =>
    native().watchExit(pid, (code, signal) => resolve({ code, signal })),
  );
  const timer =
    o.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, o.timeoutMs);
  const [stderr, end] = await Promise.all([readAll(errR!), exited]).finally(() => clearTimeout(timer));
  return { ...end, stderr };
}
