import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import { namespaceInodes, NAMESPACE_KINDS } from '../sandbox/sandbox.js';
import { view } from '../pod/view.js';
import { formatTable } from '../kubectl/table.js';
import { PodboxError } from '../errors.js';
import { namespaceGraphDot } from '../sandbox/namespace-graph.js';
import { readConfigText } from '../container/bundle.js';
import { chosenContainer } from '../api/containers.js';

/**
 * `podbox inspect POD [-o json]`: the pod as the kernel sees it. The pause process, each running
 * container's process, and the inode of each of their namespaces: an equal inode is a shared
 * namespace (compare `ls -l /proc/PID/ns`). `-o dot` draws the same as a graph; `-c NAME --oci`
 * prints what runc was given for a container.
 */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the pod as the kernel sees it: processes and namespace inodes')
    .argument('<pod>')
    .option('-o, --output <format>', 'json, or dot: the namespace graph for Graphviz')
    .option('-c, --container <name>', 'with --oci: the container')
    .option('--oci', "print the OCI config.json the container was started with (runc's bundle)")
    .action((pod: string, o: { output?: string; container?: string; oci?: boolean }) => {
      if (o.oci || o.container !== undefined) {
        process.stdout.write(ociConfigOf(pod, o));
        return;
      }
      const info = inspectPod(pod);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      if (o.output === 'dot') {
        process.stdout.write(namespaceGraphDot(pod, [info.pause, ...info.containers], NAMESPACE_KINDS));
        return;
      }
      process.stdout.write(`pod ${info.pod}: pause pid ${info.pause.pid}\n`);
      const procs = [info.pause, ...info.containers];
      const rows = [['NAMESPACE', ...procs.map((p) => `${p.name} (${p.pid})`), 'SHARED']];
      for (const ns of NAMESPACE_KINDS) {
        const inodes = procs.map((p) => p.namespaces[ns]);
        rows.push([ns, ...inodes.map((i) => String(i ?? '-')), info.shared[ns] ? 'yes' : 'no']);
      }
      process.stdout.write(formatTable(rows));
    });
}

export interface ProcessView {
  name: string;
  pid: number;
  namespaces: Partial<Record<string, number>>;
}

export function inspectPod(name: string): {
  pod: string;
  pause: ProcessView;
  containers: ProcessView[];
  shared: Record<string, boolean>;
} {
  const v = view(PodDir.open(name));
  const pausePid = v.state?.runtime.pause?.pid;
  if (!v.alive || !pausePid || v.state?.runtime.finished) {
    throw new PodboxError(
      'PodNotFound',
      `pod "${name}" is not running`,
      'inspect shows running pods only; see `podbox get` for its status',
    );
  }
  const pause: ProcessView = { name: 'pause', pid: pausePid, namespaces: namespaceInodes(pausePid) };
  const containers: ProcessView[] = [];
  for (const [cname, c] of Object.entries(v.state!.runtime.containers)) {
    const pid = c.hostPid; // the container's first process
    if (pid) containers.push({ name: cname, pid, namespaces: namespaceInodes(pid) });
  }
  const shared: Record<string, boolean> = {};
  for (const ns of NAMESPACE_KINDS) {
    shared[ns] =
      containers.length > 0 &&
      containers.every((c) => c.namespaces[ns] !== undefined && c.namespaces[ns] === pause.namespaces[ns]);
  }
  return { pod: name, pause, containers, shared };
}

/** `inspect POD -c NAME --oci`: the container's config.json as runc was given it. */
function ociConfigOf(pod: string, o: { container?: string; oci?: boolean }): string {
  if (!o.oci)
    throw new PodboxError('InvalidArgument', '-c NAME goes with --oci', `run \`podbox inspect ${pod} -c NAME --oci\``);
  const v = view(PodDir.open(pod));
  const name = chosenContainer(v.record.pod, o.container).name;
  const c = v.state?.runtime.containers[name];
  const text = v.alive && !v.state?.runtime.finished && c ? readConfigText(v.dir.path, name) : undefined;
  if (text === undefined) {
    throw new PodboxError(
      'ContainerNotFound',
      `container "${name}" of pod "${pod}" has no OCI bundle: it has not been started, or the pod has ended`,
      `see \`podbox get ${pod}\``,
    );
  }
  return text.endsWith('\n') ? text : `${text}\n`;
}
