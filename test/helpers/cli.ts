import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Runs the real CLI (bin/podbox, compiled dist/) the way a user does. */
export const PODBOX = fileURLToPath(new URL('../../bin/podbox', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function makeHome(): string {
  return mkdtempSync(join(tmpdir(), 'podbox-test-'));
}

export function cli(home: string, extraEnv: Record<string, string> = {}) {
  // Loopback-only pods unless a test asks for a network (`--network`, or PODBOX_NETWORK in extraEnv):
  // hermetic, and no user-mode stack per pod of the tests that are not about the network.
  // CI unset: a foreground run's grace-period lines and summary (on in CI jobs) are asked for by the tests about them.
  const env = {
    PODBOX_HOME: home,
    PODBOX_QUIET_IDMAP: '1',
    NO_COLOR: '1',
    PODBOX_NETWORK: 'none',
    CI: '',
    ...extraEnv,
  };
  // Output as execa gives it: one final newline stripped.
  const run = async (args: string[], o: { input?: string; timeout?: number } = {}): Promise<CliResult> => {
    const r = await execa(PODBOX, args, { env, reject: false, input: o.input, timeout: o.timeout ?? 60_000 });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const spawn = (args: string[]): ResultPromise => execa(PODBOX, args, { env, reject: false, buffer: true, all: true });
  return { run, spawn, env, home };
}

/** Waits for a condition with a bounded timeout (no sleep-and-hope). */
export async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Is `pid` running (a zombie is not)? Read from /proc here, apart from podbox's own code. */
export function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The pod's record and state as the supervisor wrote them. */
export function podRecord(home: string, name: string): { supervisor: { pid: number } } {
  return JSON.parse(readFileSync(join(home, 'pods', name, 'pod.json'), 'utf8'));
}

export function podRuntime(
  home: string,
  name: string,
): { pause?: { pid: number }; containers: Record<string, { instance: number; pid?: number; hostPid?: number }> } {
  return JSON.parse(readFileSync(join(home, 'pods', name, 'status.json'), 'utf8')).runtime;
}

/**
 * The pid of the user's supervisor serving `home`: the holder of the flock on its lock file, read
 * from /proc/locks (`N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF`), so a supervisor still
 * exiting, or one that found another running, does not count.
 */
export function supervisorPid(home: string): number | undefined {
  let ino: number;
  try {
    ino = statSync(join(home, 'pods', '.supervisor.lock')).ino;
  } catch {
    return undefined;
  }
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === 'FLOCK' && f[5]?.split(':')[2] === String(ino)) return Number(f[4]);
  }
  return undefined;
}

/**
 * The pods in `home` (the user's supervisor's own files, .supervisor.*, are not pods, nor the claims
 * of running pods' subnets and host ports, .net-* and .port-*: networkClaims, nor `podbox serve`'s .serve-*, nor
 * the pod network's list of members, .pod-network*).
 */
export function podDirs(home: string): string[] {
  const d = join(home, 'pods');
  return existsSync(d) ? readdirSync(d).filter((n) => !/^\.(supervisor\.|net-|port-|serve-|pod-network)/.test(n)) : [];
}

/** The subnets and host ports claimed by running pods (sandbox/network.ts). */
export function networkClaims(home: string): string[] {
  const d = join(home, 'pods');
  return existsSync(d) ? readdirSync(d).filter((n) => /^\.(net-|port-)/.test(n)) : [];
}

/**
 * The podbox processes (commands and the user's supervisor) working on `home`, found by their
 * environment: a supervisor left running after the last pod is gone is a leak. pause has no
 * environment; it is found through the pod's state (podRuntime).
 */
export function podboxProcesses(home: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]![0];
      if (env.includes(`PODBOX_HOME=${home}`) && state !== 'Z') out.push(Number(entry));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}
