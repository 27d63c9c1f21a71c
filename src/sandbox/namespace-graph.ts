import type { NamespaceName } from './native.js';

/** A process of a pod and the inode of each of its namespaces (cli/inspect.ts inspectPod). */
export interface NamespacedProcess {
  name: string;
  pid: number;
  namespaces: Partial<Record<NamespaceName | string, number>>;
}

const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

/**
 * The pod's namespaces as a Graphviz graph (`podbox inspect POD -o dot | dot -Tsvg`): pause and each
 * container are ellipses; each namespace (one inode) is a box, with an edge from every process in
 * it. A namespace that more than one process is in is shared: filled, with all their edges; the
 * boxes of one kind (net, pid...) stand in one row.
 */
export function namespaceGraphDot(pod: string, procs: NamespacedProcess[], kinds: readonly string[]): string {
  const out = [`digraph ${quote(`pod ${pod}`)} {`, '  rankdir=LR;', '  node [fontname="monospace"];'];
  for (const p of procs) out.push(`  ${quote(p.name)} [shape=ellipse, label=${quote(`${p.name}\\npid ${p.pid}`)}];`);
  const edges: string[] = [];
  for (const kind of kinds) {
    const members = new Map<number, string[]>();
    for (const p of procs) {
      const ino = p.namespaces[kind];
      if (ino === undefined) continue;
      members.set(ino, [...(members.get(ino) ?? []), p.name]);
    }
    const row = [...members.entries()].map(([ino, names]) => {
      const id = quote(`${kind}:${ino}`);
      const shared = names.length > 1 ? ', style=filled, fillcolor="lightblue"' : '';
      for (const n of names) edges.push(`  ${quote(n)} -> ${id};`);
      return `    ${id} [shape=box, label=${quote(`${kind}\\n${ino}`)}${shared}];`;
    });
    if (row.length) out.push(`  subgraph ${quote(`ns_${kind}`)} {`, '    rank=same;', ...row, '  }');
  }
  return [...out, ...edges, '}', ''].join('\n');
}
