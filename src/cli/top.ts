import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { PodDir } from '../pod/dir.js';
import { view, type PodView } from '../pod/view.js';
import { formatTable } from '../kubectl/table.js';
import { PodboxError } from '../errors.js';
import { processCgroups, type ProcessCgroups } from '../cgroup/process-cgroup.js';
import { readUsage, type Usage } from '../cgroup/usage.js';

/**
 * `podbox top [POD] [--containers]`, as `kubectl top pod`: CPU and memory of each running pod (the sum
 * of its containers, as metrics-server sums them) or of each container, read from the containers'
 * cgroups. CPU is a rate: the CPU time used over a one-second window (metrics-server averages over its
 * scrape interval instead); memory is the working set. A container without a cgroup of its own (rootless
 * without cgroup delegation: it shares the user's) has no usage to show.
 */
export function registerTop(program: Command): void {
  program
    .command('top')
    .description('CPU and memory of running pods or their containers (like kubectl top pod)')
    .argument('[pod]')
    .option('--containers', 'one line per container')
    .option('--no-headers', 'leave the header line out')
    .option('--sort-by <resource>', 'cpu or memory, highest first')
    .action(async (name: string | undefined, o: { containers?: boolean; headers: boolean; sortBy?: string }) => {
      if (o.sortBy !== undefined && o.sortBy !== 'cpu' && o.sortBy !== 'memory') {
        throw new PodboxError('InvalidArgument', `--sort-by "${o.sortBy}" is not a resource`, 'use cpu or memory');
      }
      const pods = (name ? [PodDir.open(name)] : PodDir.list()).map(view).filter(running);
      if (name && pods.length === 0) {
        throw new PodboxError('PodNotRunning', `pod "${name}" is not running`, 'top shows running pods only');
      }
      const rows = await measure(pods);
      if (name && rows.length === 0) throw noMetrics(name);
      if (!name && rows.length === 0) {
        if (pods.length === 0) process.stderr.write('No resources found.\n');
        else throw noMetrics(undefined);
        return;
      }
      process.stdout.write(topTable(rows, { containers: o.containers === true, headers: o.headers, sortBy: o.sortBy }));
    });
}

/** One container's usage over the window. */
export interface ContainerTop {
  pod: string;
  container: string;
  milliCpu: number;
  memoryBytes: number;
}

/** How long CPU time is sampled over. */
const WINDOW_MS = 1000;

function running(v: PodView): boolean {
  return v.alive && !!v.state?.runtime.pause && !v.state.runtime.finished;
}

async function measure(pods: PodView[]): Promise<ContainerTop[]> {
  const found: { pod: string; container: string; dirs: ProcessCgroups; first: Usage; at: bigint }[] = [];
  for (const v of pods) {
    const pause = processCgroups(v.state!.runtime.pause!.pid);
    for (const [container, c] of Object.entries(v.state!.runtime.containers)) {
      const dirs = c.hostPid ? processCgroups(c.hostPid) : undefined;
      if (!dirs || !pause || !ownCgroup(dirs, pause)) continue;
      const first = readUsage(dirs);
      if (first) found.push({ pod: v.dir.name, container, dirs, first, at: process.hrtime.bigint() });
    }
  }
  if (found.length === 0) return [];
  await sleep(WINDOW_MS);
  const rows: ContainerTop[] = [];
  for (const f of found) {
    const last = readUsage(f.dirs);
    if (!last) continue; // ended within the window
    const elapsed = Number(process.hrtime.bigint() - f.at);
    rows.push({
      pod: f.pod,
      container: f.container,
      milliCpu: Math.max(0, Math.round(((last.cpuNanos - f.first.cpuNanos) / elapsed) * 1000)),
      memoryBytes: last.workingSetBytes,
    });
  }
  return rows;
}

/**
 * A container's numbers are its own only in a cgroup apart from pause's: without delegation the
 * container, pause and the whole user session share one, and its usage would be theirs.
 */
function ownCgroup(c: ProcessCgroups, pause: ProcessCgroups): boolean {
  const memory = c.v1.get('memory');
  if (memory) return memory !== pause.v1.get('memory');
  return c.v2 !== undefined && c.v2 !== pause.v2;
}

/** kubectl top's table: CPU in millicores (`12m`), memory in MiB (`5Mi`), truncated as kubectl does. */
export function topTable(rows: ContainerTop[], o: { containers: boolean; headers: boolean; sortBy?: string }): string {
  let lines: { pod: string; container?: string; milliCpu: number; memoryBytes: number }[] = rows;
  if (!o.containers) {
    const pods = new Map<string, { pod: string; milliCpu: number; memoryBytes: number }>();
    for (const r of rows) {
      const p = pods.get(r.pod) ?? { pod: r.pod, milliCpu: 0, memoryBytes: 0 };
      p.milliCpu += r.milliCpu;
      p.memoryBytes += r.memoryBytes;
      pods.set(r.pod, p);
    }
    lines = [...pods.values()];
  }
  if (o.sortBy === 'cpu') lines = [...lines].sort((a, b) => b.milliCpu - a.milliCpu);
  if (o.sortBy === 'memory') lines = [...lines].sort((a, b) => b.memoryBytes - a.memoryBytes);
  const table = lines.map((l) => [
    l.pod,
    ...(o.containers ? [l.container!] : []),
    `${l.milliCpu}m`,
    `${Math.floor(l.memoryBytes / (1024 * 1024))}Mi`,
  ]);
  const header = [o.containers ? 'POD' : 'NAME', ...(o.containers ? ['NAME'] : []), 'CPU(cores)', 'MEMORY(bytes)'];
  return formatTable(o.headers ? [header, ...table] : table);
}

function noMetrics(pod: string | undefined): PodboxError {
  return new PodboxError(
    'HostNotReady',
    `${pod ? `pod "${pod}"` : 'no running pod'}: no resource usage to show: its containers have no cgroups of their own`,
    'podbox makes them as root or where a cgroup is delegated to you; `podbox doctor` says how',
  );
}
