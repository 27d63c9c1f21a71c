import type { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { PodDir } from '../pod/dir.js';
import { chosenContainer } from '../api/containers.js';
import { readContainerLog, type EmitLine } from '../logs/log-reader.js';
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
    .action(
      async (
        pod: string,
        o: { container?: string; follow?: boolean; previous?: boolean; timestamps?: boolean; tail: string },
      ) => {
        const dir = PodDir.open(pod);
        const name = chosenContainer(dir.record().pod, o.container).name;
        const tail = Number(o.tail);
        if (!Number.isInteger(tail))
          throw new PodboxError('InvalidArgument', `--tail ${o.tail} is not a number`, 'give e.g. --tail 10');

        // An instance's log is removed when the one after the next starts (log-file.ts
        // removeOldInstanceLogs): if the chosen one went between listing and opening, list again.
        let instances = instancesOf(dir, name);
        const pick = () => instances.at(o.previous ? -2 : -1);
        for (let i = 0; i < 3 && pick() !== undefined && !existsSync(dir.logFile(name, pick()!)); i++) {
          instances = instancesOf(dir, name);
        }
        const instance = pick();
        if (o.previous && instance === undefined) {
          const what = `previous terminated container "${name}" in pod "${pod}" not found`;
          throw new PodboxError('ContainerNotFound', what, 'it has not restarted yet');
        }
        if (instance === undefined) {
          // kubectl: "container NAME in pod POD is waiting to start: REASON", exit 1.
          const s = dir.state()?.status;
          const st = [...(s?.initContainerStatuses ?? []), ...(s?.containerStatuses ?? [])].find(
            (c) => c.name === name,
          )?.state;
          const reason = st && 'waiting' in st ? st.waiting.reason : 'ContainerCreating';
          throw new PodboxError(
            'ContainerNotFound',
            `container "${name}" in pod "${pod}" is waiting to start: ${reason}`,
            `see \`podbox describe ${pod}\``,
          );
        }
        const file = dir.logFile(name, instance);
        const out = new StdoutBatch();
        const emit: EmitLine = (time, _stream, parts) => {
          // kubectl logs --timestamps: one timestamp a line, however many records it took.
          if (o.timestamps) out.add(Buffer.from(`${time} `));
          for (const p of parts) out.add(p);
          out.add(NEWLINE);
        };
        // Follow until this instance ends (as kubectl logs -f does); --previous never follows.
        const running =
          o.follow && !o.previous
            ? () => {
                const v = view(dir);
                const c = v.state?.runtime.containers[name];
                return v.alive && c?.instance === instance && c.pid !== undefined;
              }
            : undefined;
        await readContainerLog(file, emit, { tail, running, idle: () => out.flush() });
        out.flush();
      },
    );
}

const NEWLINE = Buffer.from('\n');

/** Output in writes of about 64 KiB: a long log is not one write a line. */
class StdoutBatch {
  private parts: Buffer[] = [];
  private bytes = 0;
  add(b: Buffer): void {
    this.parts.push(b);
    this.bytes += b.length;
    if (this.bytes >= 64 * 1024) this.flush();
  }
  flush(): void {
    if (this.bytes === 0) return;
    process.stdout.write(Buffer.concat(this.parts, this.bytes));
    this.parts = [];
    this.bytes = 0;
  }
}

function instancesOf(dir: PodDir, name: string): number[] {
  try {
    // N.log only: N.log.TIMESTAMP are its rotated files (log-file.ts).
    const names = readdirSync(dir.file('logs', name)).filter((f) => /^\d+\.log$/.test(f));
    return names.map((f) => Number(f.slice(0, -'.log'.length))).sort((a, b) => a - b);
  } catch {
    return [];
  }
}
