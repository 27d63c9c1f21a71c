import type { Command } from 'commander';
import { collectGarbage } from '../pod/view.js';
import { deletePod } from '../pod/delete.js';
import { PodboxError, isPodboxError } from '../errors.js';
import type { KindNames } from '../workload/object.js';

/**
 * `podbox delete POD... [--grace-period N] [--now]` and `podbox delete -f FILE`: graceful
 * deletion (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
 * The pod's supervisor stops its containers (SIGTERM, the grace period, SIGKILL) and tears the
 * sandbox down; this command waits until everything is gone, then removes the pod's files.
 */
export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete pods gracefully and wait until they are gone')
    .argument('[pods...]')
    .option('-f, --filename <file>', 'delete the pod a manifest defines')
    .option(
      '--grace-period <seconds>',
      "seconds to wait after SIGTERM before SIGKILL (default: the pod's terminationGracePeriodSeconds)",
    )
    .option('--now', 'signal immediate shutdown (same as --grace-period=1)')
    .option('--force', 'a static pod (`podbox serve`): keep it deleted until its file changes or serve restarts')
    .action(async (args: string[], o: { filename?: string; gracePeriod?: string; now?: boolean; force?: boolean }) => {
      // `podbox delete job NAME` and `-f` of a file with workloads: cli/workloads.ts.
      const { resourceArgs, deleteWorkloads, targetsIn } = await import('./workloads.js');
      const { kind, names: named } = resourceArgs(args);
      const names = kind ? [] : [...named];
      const workloads: { kind: KindNames; name: string }[] = kind ? named.map((name) => ({ kind, name })) : [];
      if (o.filename) {
        const t = await targetsIn(o.filename);
        names.push(...t.pods);
        workloads.push(...t.workloads);
      }
      if (names.length === 0 && workloads.length === 0)
        throw new PodboxError('InvalidArgument', 'no pod named', 'give one or more pod names, or -f FILE');
      let grace: number | undefined;
      if (o.gracePeriod !== undefined) {
        grace = Number(o.gracePeriod);
        if (!Number.isInteger(grace) || grace < 0)
          throw new PodboxError(
            'InvalidArgument',
            `--grace-period ${o.gracePeriod} is not a whole number of seconds`,
            'give e.g. --grace-period 5',
          );
      }
      // kubectl: --now is --grace-period=1
      if (o.now) grace = 1;
      await collectGarbage();
      for (const w of workloads) if (!(await deleteWorkloads(w.kind, [w.name], grace))) process.exitCode = 1;
      if (names.length === 0) return;
      const { staticDeletion } = await import('../static/static-delete.js');
      const notes = names.map((name) => staticDeletion(name, !!o.force));
      // Every pod is stopped at once (each waits for its own grace period), reported in the order given.
      const results = await Promise.allSettled(names.map((name) => deletePod(name, { gracePeriod: grace })));
      if (names.length === 1 && results[0]!.status === 'rejected') throw results[0]!.reason;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          process.stdout.write(`pod "${names[i]}" deleted\n`);
          // As kubectl prints an API server's warning.
          if (notes[i]) process.stderr.write(`Warning: ${notes[i]}\n`);
        } else if (isPodboxError(r.reason)) process.stderr.write(`podbox: ${r.reason.toLine()}\n`);
        else throw r.reason;
      });
      if (results.some((r) => r.status === 'rejected')) process.exitCode = 1;
    });
}
