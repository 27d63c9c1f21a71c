import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/**
 * Starts `node ARGS...` in its own session, as podbox's background processes are (the user's
 * supervisor, a workload's host, `serve -d`): no terminal, its output appended to `logFile`, and a
 * pipe on its fd 3 on which it says one word once it is ready ("ok", or "error: ..."). Resolves with
 * that word; `silent` is what a child that closed the pipe without a word is taken to have said.
 */
export function spawnDetachedAndAwaitWord(
  args: string[],
  logFile: string,
  silent = '',
): Promise<{ word: string; pid: number | undefined }> {
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
    env: process.env,
    cwd: '/',
  });
  closeSync(log);
  return new Promise((resolve) => {
    let word = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (word += d));
    pipe.on('end', () => resolve({ word: word.trim() || silent, pid: child.pid }));
    pipe.on('error', () => resolve({ word: word.trim(), pid: child.pid }));
    child.unref();
  });
}
