import { accessSync, constants, lstatSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { native, type NamespaceName } from './native.js';
import { namespaceInodes, waitForExit } from './sandbox.js';
import { PodboxError } from '../errors.js';
import { traceJoined } from './trace-steps.js';

/**
 * `podbox enter`: a host program run inside a pod's namespaces, as util-linux nsenter does
 * (nsenter.c: open every /proc/PID/ns file first, join the user namespace first, then the others,
 * fork once more so the PID namespace applies). The addon does the joining (native/namespaces.c
 * pb_spawn_in_namespaces), as for probes and exec hooks.
 *
 * The mount namespace is left out unless asked for: a host program needs the host's files (its
 * libraries), which are not in the pod's. Joined, the program is looked up in the pod's (or the
 * container's) root instead, as `nsenter --mount` does. A PID namespace joined without it gets a
 * /proc of its own (in a private mount namespace), so `ps` and `lsns` see the pod's processes.
 */
export const ENTER_NAMESPACES: NamespaceName[] = ['user', 'net', 'ipc', 'uts', 'pid', 'mnt'];

/** The namespaces `--ns a,b` names, in the order they are joined (user first); all but mnt by default. */
export function enterNamespaces(list: string | undefined): NamespaceName[] {
  if (list === undefined) return ENTER_NAMESPACES.filter((n) => n !== 'mnt');
  const asked = list.split(',').map((s) => s.trim());
  const unknown = asked.filter((n) => !(ENTER_NAMESPACES as string[]).includes(n));
  if (unknown.length || asked.length === 0) {
    throw new PodboxError(
      'InvalidArgument',
      `--ns "${list}": ${unknown.length ? `"${unknown[0]}" is not a namespace podbox enters` : 'names no namespace'}`,
      `name some of ${ENTER_NAMESPACES.join(',')}`,
    );
  }
  return ENTER_NAMESPACES.filter((n) => asked.includes(n));
}

/**
 * Where `cmd` is: as a shell finds it in PATH, on the host, or, with the mount namespace joined,
 * under the target's root (/proc/PID/root, which the pod's owner may read) in the usual directories.
 */
export function findProgram(cmd: string, o: { rootOf?: number; path?: string }): string | undefined {
  // Under /proc/PID/root an absolute symlink (busybox's applets) resolves in the host's root: so
  // there only the entry itself is looked at (lstat); its exec, inside, resolves it properly.
  const inside = o.rootOf !== undefined;
  const runnable = (p: string) => {
    try {
      if (inside) lstatSync(`/proc/${o.rootOf}/root${p}`);
      else accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) {
    const p = inside ? join('/', cmd) : cmd;
    return runnable(p) ? p : undefined;
  }
  const dirs = inside
    ? ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    : (o.path ?? '').split(delimiter).filter(Boolean);
  for (const d of dirs) if (runnable(join(d, cmd))) return join(d, cmd);
  return undefined;
}

/**
 * Runs argv in the namespaces of process `target` (what `podbox enter` names) with this process's
 * stdio and environment; resolves with its exit status (128 + signal when killed). A namespace this
 * process already shares is not joined (setns into one's own user namespace fails; nsenter skips it too).
 */
export async function runEntered(
  target: number,
  namespaces: NamespaceName[],
  argv: string[],
  what: string,
): Promise<number> {
  const mine = namespaceInodes(process.pid);
  const theirs = namespaceInodes(target);
  // Rootless, nothing else can be joined without the pod's user namespace (it owns the others).
  const asked = process.getuid?.() === 0 || namespaces.includes('user') ? namespaces : ['user' as const, ...namespaces];
  const join = asked.filter((n) => theirs[n] !== undefined && theirs[n] !== mine[n]);
  const mnt = join.includes('mnt');
  const program = findProgram(argv[0]!, { rootOf: mnt ? target : undefined, path: process.env.PATH });
  if (!program) {
    throw new PodboxError(
      'InvalidArgument',
      `${what}: "${argv[0]}" not found ${mnt ? "in the target's root filesystem" : 'in PATH'}`,
      mnt ? 'give its path inside, or leave mnt out of --ns to run a host program' : 'give its path',
    );
  }
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  let pid: number;
  try {
    pid = native().spawnInNamespaces({
      pid: target,
      namespaces: join,
      argv: [program, ...argv.slice(1)],
      env,
      cwd: mnt ? '/' : undefined,
      stdio: [0, 1, 2],
      dieWithParent: true,
      mountProc: join.includes('pid') && !mnt,
    });
  } catch (e) {
    throw new PodboxError('RuntimeFailed', `${what}: ${(e as Error).message}`, 'see `podbox doctor`');
  }
  traceJoined(
    pid,
    target,
    join,
    `${program} runs there${join.includes('pid') && !mnt ? ', with a /proc of that PID namespace' : ''}`,
  );
  // The program is in a session of its own: pass on what would stop podbox.
  const pass = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of sigs) process.on(s, pass);
  try {
    const { code, signal } = await waitForExit(pid);
    return code ?? 128 + (signal ?? 0);
  } finally {
    for (const s of sigs) process.off(s, pass);
  }
}
