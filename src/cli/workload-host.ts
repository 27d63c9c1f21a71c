import type { Command } from 'commander';

/** `podbox __workload KIND NAME`: the detached host of one workload (workload/apply.ts hostMain), started by `run -d`. */
export function registerWorkloadHost(program: Command): void {
  program
    .command('__workload', { hidden: true })
    .argument('<kind>')
    .argument('<name>')
    .action(async (kind: string, name: string) => {
      const { hostMain } = await import('../workload/apply.js');
      process.exitCode = await hostMain(kind, name);
    });
}
