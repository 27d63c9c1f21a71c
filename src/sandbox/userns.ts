import { closeSync, writeSync } from 'node:fs';
import { native } from './native.js';
import { startInNewNamespaces } from './namespaces.js';
import { podIdMapping } from './idmap.js';
import { spawnInPod, waitForExit } from './sandbox.js';
import { devNullFd, readAll, withPipes } from '../host/pipes.js';
import { PodboxError } from '../errors.js';
import { traceJoined, traceRemoved } from './trace-steps.js';

/**
 * Runs a command as root of a fresh user namespace with the pod id mapping, as `podman unshare`
 * does. Files it creates or chowns keep the ids a pod sees (pod uid 1000 = the same host id in
 * every pod), and it can delete trees owned by the user's subordinate ids.
 */
export async function runInUserNamespace(argv: string[], opts: { input?: string } = {}): Promise<void> {
  const n = native();
  let inR: number | null = null,
    inW: number | null = null;
  if (opts.input !== undefined) [inR, inW] = n.pipe();
  let started: { value: Promise<number>; readEnds: number[] };
  try {
    // startInNewNamespaces clones before its first await: the child holds errW when withPipes closes ours.
    started = withPipes(1, ([errW]) =>
      startInNewNamespaces({
        argv,
        env: Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
        namespaces: ['user'],
        dieWithParent: true, // a helper of this command: it must not outlive it
        stdio: [inR ?? devNullFd(), devNullFd(), errW!],
        what: argv[0]!,
      }),
    );
  } finally {
    if (inR !== null) closeSync(inR);
  }
  const errR = started.readEnds[0]!;
  const pid = await started.value;
  const exited = new Promise<{ code: number | null; signal: number | null }>((resolve) =>
    n.watchExit(pid, (code, signal) => resolve({ code, signal })),
  );
  if (inW !== null) {
    try {
      writeSync(inW, opts.input!);
    } finally {
      closeSync(inW);
    }
  }
  const stderr = await readAll(errR);
  const { code, signal } = await exited;
  if (code !== 0) {
    const last = stderr.trim().split('\n').pop() || (signal ? `killed by signal ${signal}` : `exit code ${code}`);
    throw new PodboxError('SandboxFailed', last, '');
  }
}

/**
 * Deletes trees that may hold files owned by the pod's subordinate ids: as root, or without
 * subordinate ids, directly; otherwise from a fresh user namespace with the pod id mapping (which
 * costs two id-map helpers: newuidmap and newgidmap).
 */
export async function removeTrees(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  if (!needsIdMap()) {
    const { rmSync } = await import('node:fs');
    for (const p of paths) rmSync(p, { recursive: true, force: true });
    traceRemoved(paths, 'by podbox directly');
    return;
  }
  await runInUserNamespace(['/bin/rm', '-rf', '--', ...paths]);
  traceRemoved(paths, 'by rm -rf in a new user namespace with the pod id mapping');
}

/** Deletes trees inside a running pod, from its own user and mount namespaces (a restarted container's layer). */
export async function removeTreesInPod(pausePid: number, paths: string[]): Promise<void> {
  await waitForExit(spawnInPod(pausePid, ['/bin/rm', '-rf', '--', ...paths]));
  traceRemoved(paths, "by rm -rf in the pod's user, mount and PID namespaces");
}

function needsIdMap(): boolean {
  return process.getuid!() !== 0 && podIdMapping().helper;
}

/**
 * A remover for a pod's trees that joins the pod's own user namespace while pause still holds it,
 * then waits: the caller stops pause (the pod's mount namespace and its overlays go with it) and
 * hands it the paths. It joins the user namespace only, so it sees the host's files with the pod's
 * ids, and no id map is made again. Returns the function that hands it the paths and waits.
 */
export function removeTreesAfterPod(pausePid: number): (paths: string[]) => Promise<void> {
  if (!needsIdMap()) return removeTrees;
  const n = native();
  const [inR, inW] = n.pipe();
  let pid: number;
  try {
    // xargs waits for its input to end, so nothing is removed before the paths are given.
    pid = n.spawnInNamespaces({
      pid: pausePid,
      namespaces: ['user'],
      argv: ['/usr/bin/xargs', '-0', '-r', 'rm', '-rf', '--'],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      stdio: [inR!, devNullFd(), null],
      dieWithParent: true,
    });
  } catch {
    closeSync(inW!);
    return removeTrees;
  } finally {
    closeSync(inR!);
  }
  const exited = waitForExit(pid);
  traceJoined(pid, pausePid, ['user'], "xargs rm waits there to remove the pod's files once pause is gone");
  return async (paths) => {
    try {
      writeSync(inW!, paths.map((p) => `${p}\0`).join(''));
    } finally {
      closeSync(inW!);
    }
    const { code } = await exited;
    if (code !== 0) await removeTrees(paths);
    else traceRemoved(paths, "by xargs rm in the pod's user namespace, kept by it after pause exited");
  };
}
