import { Socket } from 'node:net';
import { closeSync, writeSync } from 'node:fs';
import { native } from './native.js';
import { startInNewNamespaces, devNullFd } from './namespaces.js';
import { podIdMapping } from './idmap.js';
import { PodboxError } from '../errors.js';

/**
 * Runs a command as root of a fresh user namespace with the pod id mapping, as `podman unshare`
 * does. Files it creates or chowns keep the ids a pod sees (pod uid 1000 = the same host id in
 * every pod), and it can delete trees owned by the user's subordinate ids.
 */
export async function runInUserNamespace(argv: string[], opts: { input?: string } = {}): Promise<void> {
  const n = native();
  const [errR, errW] = n.pipe();
  let inR: number | null = null, inW: number | null = null;
  if (opts.input !== undefined) [inR, inW] = n.pipe();
  let pid: number;
  try {
    pid = await startInNewNamespaces({
      argv,
      env: Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
      namespaces: ['user'],
      stdio: [inR ?? devNullFd(), devNullFd(), errW],
      what: argv[0]!,
    });
  } finally {
    closeSync(errW);
    if (inR !== null) closeSync(inR);
  }
  const exited = new Promise<{ code: number | null; signal: number | null }>((resolve) =>
    n.watchExit(pid, (code, signal) => resolve({ code, signal })));
  if (inW !== null) {
    try { writeSync(inW, opts.input!); } finally { closeSync(inW); }
  }
  const stderr = await readAll(errR);
  const { code, signal } = await exited;
  if (code !== 0) {
    const last = stderr.trim().split('\n').pop() || (signal ? `killed by signal ${signal}` : `exit code ${code}`);
    throw new PodboxError('SandboxFailed', last, '');
  }
}

/** Reads a pipe's read end to EOF. */
export function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** Deletes trees that may hold files owned by the pod's subordinate ids. */
export async function removeTrees(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  if (process.getuid!() === 0 || !podIdMapping().helper) {
    const { rmSync } = await import('node:fs');
    for (const p of paths) rmSync(p, { recursive: true, force: true });
    return;
  }
  await runInUserNamespace(['/bin/rm', '-rf', '--', ...paths]);
}
