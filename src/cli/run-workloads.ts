import type { LogStream } from '../logs/cri-log.js';
import { PodboxError } from '../errors.js';
import type { Plan } from '../workload/plan.js';
import { runPlan, startPlan } from '../workload/apply.js';

/**
 * `podbox run FILE|-f DIR` when the files hold workloads (a Job...) or several pods: the plan run
 * in the foreground (workload/apply.ts runPlan) or handed to detached hosts (`-d`, startPlan).
 */
export async function runWorkloads(
  plan: Plan,
  opts: {
    detach?: boolean;
    keep?: boolean;
    replace?: boolean;
    timestamps?: boolean;
    timeout?: string;
    exitCodeFrom?: string;
  },
  settings: Record<string, string>,
): Promise<number> {
  for (const [flag, set] of [
    ['--timeout', opts.timeout],
    ['--exit-code-from', opts.exitCodeFrom],
  ] as const)
    if (set !== undefined)
      throw new PodboxError(
        'InvalidArgument',
        `${flag} is for a file of one pod, and this one holds workloads`,
        'use activeDeadlineSeconds in the Job, or run the pod on its own',
      );
  if (opts.detach) return startPlan(plan, { replace: opts.replace, settings });
  return runPlan(plan, { keep: opts.keep, replace: opts.replace, settings, echo: prefixed(opts.timestamps) });
}

/** A container's line as `kubectl logs --prefix` shows it: `[pod/NAME/CONTAINER] line`. */
function prefixed(timestamps?: boolean): (pod: string, container: string, stream: LogStream, text: string) => void {
  return (pod, container, stream, text) => {
    const time = timestamps ? `${new Date().toISOString()} ` : '';
    (stream === 'stderr' ? process.stderr : process.stdout).write(`[pod/${pod}/${container}] ${time}${text}\n`);
  };
}
