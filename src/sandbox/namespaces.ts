import { closeSync } from 'node:fs';
import { native, kernelStepOf, type CreateNamespacesOptions } from './native.js';
import { podIdMapping, writeIdMaps, type IdMapping } from './idmap.js';
import { PodboxError } from '../errors.js';
import { traceChildReady, traceNamespacesCreated } from './trace-steps.js';

export interface StartInNewNamespaces extends CreateNamespacesOptions {
  /** what is being started, for error messages ("pod web", "image unpacker") */
  what: string;
  /** called with the child's pid once its maps are written, before it runs (to open its namespaces) */
  beforeRelease?: (pid: number) => void;
}

/**
 * Starts a program in new namespaces, user namespace included: clone, write the id maps while the
 * child waits (the addon writes them itself for a child of parentUserns), then release it and wait
 * until it has exec'd (or is ready, with giveStatusFd).
 * Returns its pid; the caller watches its exit with native().watchExit.
 */
export async function startInNewNamespaces(
  o: StartInNewNamespaces,
  mapping: IdMapping = podIdMapping(),
): Promise<number> {
  const n = native();
  let child: { pid: number; syncFd: number; statusFd: number };
  try {
    child = n.createNamespaces(o);
  } catch (e) {
    throw sandboxError(o.what, e);
  }
  traceNamespacesCreated(child.pid, o.namespaces, o.program ?? o.argv[0]!);
  try {
    if (o.parentUserns === undefined) await writeIdMaps(child.pid, mapping);
    o.beforeRelease?.(child.pid);
  } catch (e) {
    closeSync(child.syncFd); // the child reads EOF and exits
    closeSync(child.statusFd);
    reap(child.pid);
    throw e;
  }
  try {
    n.releaseChild(child.syncFd, child.statusFd);
  } catch (e) {
    reap(child.pid);
    throw sandboxError(o.what, e);
  }
  traceChildReady(child.pid, { ...o, program: o.program ?? o.argv[0]! });
  return child.pid;
}

function reap(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  native().watchExit(pid, () => {});
}

export function sandboxError(what: string, e: unknown): PodboxError {
  const step = kernelStepOf(e);
  const msg = (e as Error).message;
  let hint = 'run `podbox doctor` to check this machine';
  if (step === 'clone_namespaces' && /permitted|EPERM/i.test(msg)) {
    hint =
      'unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1 (or user.max_user_namespaces > 0)';
  }
  return new PodboxError('SandboxFailed', `${what}: ${msg}`, hint);
}
