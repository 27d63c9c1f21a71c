import { rmSync } from 'node:fs';
import { PodDir } from './dir.js';
import { view } from './view.js';
import { removeTrees } from '../sandbox/userns.js';
import { removePodLimits } from '../cgroup/pod-exit.js';
import { awaitSupervisorExit, exchange } from '../lifecycle/supervisor-client.js';
import { PodboxError, isPodboxError } from '../errors.js';
import { trace } from '../host/trace.js';
import { traceRemoved } from '../sandbox/trace-steps.js';

/**
 * Deleting a pod (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination):
 *
 *   podbox delete NAME                   the user's supervisor (started if none runs: it adopts the pod)
 *     {op: delete, name, grace?}   ──▶   machine.deleteRequested(grace): preStop hooks, SIGTERM, grace
 *                                        period, SIGKILL, pause stopped, final status written, what
 *                                        holds the pod's subordinate ids removed
 *     ◀── deleted
 *   removes the rest of the pod's directory (the user's own files: status, events, logs)
 *
 * A finished pod needs no supervisor: its directory is removed at once. Several pods are deleted
 * in parallel (`podbox delete a b c`), each with its own connection.
 */
export async function deletePod(name: string, o: { gracePeriod?: number; missingOk?: boolean } = {}): Promise<boolean> {
  let dir: PodDir;
  try {
    dir = PodDir.open(name);
  } catch (e) {
    if (o.missingOk && isPodboxError(e) && e.code === 'PodNotFound') return false;
    throw e;
  }
  const v = view(dir);
  let supervisor: number | undefined;
  if (v.alive) {
    let error: string | undefined;
    // A supervisor that goes away meanwhile (killed, upgraded) leaves the pod to its successor: ask again.
    // PODBOX_TRACE: the supervisor's steps of the teardown, printed here as they come.
    const t = trace();
    for (let tries = 0; tries < 5; tries++) {
      const done = await exchange({ op: 'delete', name, grace: o.gracePeriod, trace: t !== undefined }, (r) => {
        if (r.type === 'trace') t?.forward(r.event);
        if (r.type === 'error') error = r.line;
        if (r.type === 'deleted') supervisor = r.supervisor;
        return r.type === 'deleted' || r.type === 'error';
      });
      if (done) break;
      if (tries === 4) error = `the supervisor of pod "${name}" kept stopping`;
    }
    if (error) throw new PodboxError('RuntimeFailed', error, 'run `podbox doctor`');
  }
  // What is left after a supervisor's teardown is the user's own files; else (the pod died
  // without one) layers and volumes may hold files of the pod's subordinate ids, and its cgroups remain.
  await removePodLimits(dir.state()?.runtime.limits);
  if (dir.state()?.runtime.cleaned) {
    rmSync(dir.path, { recursive: true, force: true });
    traceRemoved([dir.path], 'by podbox directly: only your own files were left');
  } else await removeTrees([dir.path]);
  if (supervisor !== undefined) await awaitSupervisorExit(supervisor);
  return true;
}
