import { PodDir, supervisorAlive } from './dir.js';
import { view } from './view.js';
import { removeTrees } from '../sandbox/userns.js';
import { pollUntil } from '../host/poll.js';
import { isPodboxError } from '../errors.js';

/**
 * Deleting a pod: the protocol between `podbox delete` and the pod's supervisor
 * (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
 *
 *   podbox delete NAME                          supervisor of NAME (podbox run, or run -d's __supervise)
 *     dir.requestDelete(grace)  ─ delete-request.json ─▶
 *     SIGTERM ─────────────────────────────────────────▶ dir.deleteRequest(): machine.deleteRequested(grace)
 *                                                        preStop hooks, SIGTERM, grace period, SIGKILL,
 *                                                        pause stopped, final status written
 *     waits until the supervisor is gone ◀───────────── exit
 *     (not gone after grace + 15 s: SIGKILL it; pause and every process of the pod die with it)
 *     removes the pod's directory
 *
 * A plain SIGTERM or SIGINT without a request file deletes the pod with its own grace period.
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
  if (v.alive) {
    dir.requestDelete(o.gracePeriod);
    const pid = v.record.supervisor.pid;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* it just finished */
    }
    const grace = o.gracePeriod ?? v.record.pod.spec.terminationGracePeriodSeconds;
    // The grace period, the kubelet's 2 s preStop extension, and time to tear down.
    const gone = await pollUntil(() => !supervisorAlive(v.record), (grace + 15) * 1000);
    if (!gone) {
      // Its pause process dies with it, and the kernel kills the rest of the pod.
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await pollUntil(() => !supervisorAlive(v.record), 5000);
    }
  }
  await removeTrees([dir.path]);
  return true;
}
