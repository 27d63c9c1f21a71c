import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import { namespaceInodes, NAMESPACE_KINDS } from '../sandbox/sandbox.js';
import { view } from '../pod/view.js';
import { formatTable } from '../kubectl/table.js';
import { PodboxError } from '../errors.js';
import { namespaceGraphDot } from '../sandbox/namespace-graph.js';
import { readConfigText } from '../container/bundle.js';
import { chosenContainer } from '../api/containers.js';
import { podNetworkView, type PodNetworkView } from '../sandbox/netns-view.js';

/**
 * `podbox inspect POD [-o json]`: the pod as the kernel sees it. The pause process, each running
 * container's process, and the inode of each of their namespaces: an equal inode is a shared
 * namespace (compare `ls -l /proc/PID/ns`). Then the pod's network: its stack and that stack's pid, the
 * interfaces with their addresses and the routes of its namespace, and the published ports. `-o dot`
 * draws the namespaces as a graph; `-c NAME --oci` prints what runc was given for a container.
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
      if (info.network) process.stdout.write(networkText(info.network));
    });
}

function networkText(n: PodNetworkView): string {
  const stack = n.stack ? `, stack ${n.stack.name} pid ${n.stack.pid}${n.stack.alive ? '' : ' (exited)'}` : '';
  const lines = [`\nnetwork ${n.mode}: pod IP ${n.podIP}${stack}`];
  for (const i of n.interfaces) lines.push(`  interface ${i.name}: ${i.addresses.join(' ') || '-'}`);
  for (const r of n.routes)
    lines.push(`  route ${r.destination}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.interface}`);
  lines.push(`  published: ${n.published.join(', ') || '<none>'}`);
  if (n.bridge) {
    const b = n.bridge;
    lines.push(`  pod network: ${b.interface} to ${b.veth} on bridge ${b.bridge}, pods at ${b.route}`);
  }
  return `${lines.join('\n')}\n`;
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
  network?: PodNetworkView;
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
  const net = v.state!.runtime.network;
  return { pod: name, pause, containers, shared, ...(net ? { network: podNetworkView(net, pausePid) } : {}) };
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
