import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { PodDir } from '../pod/dir.js';
import { allContainers } from '../api/containers.js';
import { readLogFile, type LogLine } from '../logs/cri-log.js';
import { view } from '../pod/view.js';
import { PodboxError } from '../errors.js';

/** `podbox logs POD [-c NAME] [-f] [-p|--previous] [--timestamps] [--tail N]`, as `kubectl logs`. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("print a container's logs")
    .argument('<pod>')
    .option('-c, --container <name>', 'the container (may be left out when the pod has one)')
    .option('-f, --follow', 'stream new lines until the container ends')
    .option('-p, --previous', "the previous instance's logs (before its last restart)")
    .option('--timestamps', 'prefix each line with its RFC 3339 timestamp')
    .option('--tail <n>', 'only the last N lines (-1: all)', '-1')
    .action(async (pod: string, o: { container?: string; follow?: boolean; previous?: boolean; timestamps?: boolean; tail: string }) => {
      const dir = PodDir.open(pod);
      const spec = dir.record().pod.spec;
      const names = allContainers(dir.record().pod).map((c) => c.name);
      let name = o.container;
      if (!name) {
        if (spec.containers.length + (spec.initContainers?.length ?? 0) > 1) {
          throw new PodboxError('InvalidArgument', `a container name must be specified for pod ${pod}, choose one of: [${names.join(' ')}]`, 'add -c NAME');
        }
        name = names[0]!;
      }
      if (!names.includes(name)) throw new PodboxError('ContainerNotFound', `container ${name} is not valid for pod ${pod}`, `choose one of: [${names.join(' ')}]`);
      const tail = Number(o.tail);
      if (!Number.isInteger(tail)) throw new PodboxError('InvalidArgument', `--tail ${o.tail} is not a number`, 'give e.g. --tail 10');

      const instances = instancesOf(dir, name);
      let instance = instances.at(-1);
      if (o.previous) {
        instance = instances.at(-2);
        if (instance === undefined) throw new PodboxError('ContainerNotFound', `previous terminated container "${name}" in pod "${pod}" not found`, 'it has not restarted yet');
      }
      if (instance === undefined) {
        process.stderr.write(`podbox: container "${name}" in pod "${pod}" has not started yet\n`);
        return;
      }
      const file = dir.logFile(name, instance);
      const print = (lines: LogLine[]) => {
        for (const l of lines) process.stdout.write(o.timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`);
      };
      let lines = readLogFile(file);
      print(tail >= 0 ? lines.slice(Math.max(0, lines.length - tail)) : lines);
      if (!o.follow || o.previous) return;
      // Follow until this instance ends (as kubectl logs -f does).
      let seen = lines.length;
      for (;;) {
        const v = view(dir);
        const running = v.alive && v.state?.runtime.containers[name]?.instance === instance && v.state.runtime.containers[name]?.runcPid !== undefined;
        lines = readLogFile(file);
        print(lines.slice(seen));
        seen = lines.length;
        if (!running) {
          print(readLogFile(file).slice(seen));
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    });
}

function instancesOf(dir: PodDir, name: string): number[] {
  try {
    return readdirSync(dir.file('logs', name)).map((f) => Number(f.replace(/\.log$/, ''))).filter(Number.isInteger).sort((a, b) => a - b);
  } catch {
    return [];
  }
}
