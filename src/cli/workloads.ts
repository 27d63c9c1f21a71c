import { PodDir } from '../pod/dir.js';
import { writeObjects } from '../kubectl/object-output.js';
import { formatTable } from '../kubectl/table.js';
import { PodboxError, isPodboxError } from '../errors.js';
import { loadKind, resourceOf, workloadKindNamed, type KindEntry } from '../workload/kinds.js';
import type { KindNames } from '../workload/object.js';
import { WorkloadDir } from '../workload/dir.js';

/**
 * `podbox get jobs`, `podbox get job NAME -o yaml`, `podbox delete job NAME`: the workload side of
 * get and delete. A command's first word names a workload resource as kubectl's does (`jobs`,
 * `job`, `job.batch`, `job/NAME`); otherwise the words are pod names as ever (`pods`/`pod` may lead).
 */
export interface ResourceArgs {
  kind?: KindEntry;
  names: string[];
}

export function resourceArgs(args: readonly string[]): ResourceArgs {
  const [first, ...rest] = args;
  if (first === undefined) return { names: [] };
  const slash = first.indexOf('/');
  if (slash > 0) {
    const kind = workloadKindNamed(first.slice(0, slash));
    if (kind) {
      for (const a of rest)
        if (!a.startsWith(`${first.slice(0, slash)}/`))
          throw new PodboxError(
            'InvalidArgument',
            `${a}: mixes resource kinds`,
            'give TYPE/NAME for each, of one kind',
          );
      return { kind, names: [first, ...rest].map((a) => a.slice(a.indexOf('/') + 1)) };
    }
    if (['pod', 'pods', 'po'].includes(first.slice(0, slash)))
      return { names: args.map((a) => a.replace(/^[^/]*\//, '')) };
  }
  // A pod of that very name, alone, is still the pod it always was.
  const podNamed = rest.length === 0 && PodDir.list().some((d) => d.name === first);
  if (podNamed) return { names: [first] };
  const kind = workloadKindNamed(first);
  if (kind) return { kind, names: rest };
  if (['pod', 'pods', 'po'].includes(first)) return { names: rest };
  return { names: [...args] };
}

/** `podbox get KIND [NAME...] [-o json|yaml|name|wide]`: kubectl's table for the kind, or the objects. */
export async function getWorkloads(entry: KindEntry, names: readonly string[], format: string): Promise<void> {
  const kind = await loadKind(entry);
  const resource = resourceOf(kind.apiVersion, kind.kind);
  await (await import('../workload/apply.js')).reviveHosts(kind);
  const dirs = names.length ? names.map((n) => WorkloadDir.open(kind.kind, n, resource)) : WorkloadDir.list(kind.kind);
  const items: { object: Record<string, unknown>; status: Record<string, unknown>; dir: WorkloadDir }[] = [];
  for (const dir of dirs) {
    try {
      const { object } = dir.record();
      items.push({ object: object as unknown as Record<string, unknown>, status: dir.status(), dir });
    } catch {
      // removed meanwhile
    }
  }
  if (format === 'json' || format === 'yaml') {
    await writeObjects(
      items.map(({ object, status }) => ({ ...object, status })),
      names.length === 1,
      format,
    );
    return;
  }
  if (format === 'name') {
    for (const { dir } of items) process.stdout.write(`${resource}/${dir.name}\n`);
    return;
  }
  if (items.length === 0) {
    process.stderr.write('No resources found in default namespace.\n');
    return;
  }
  const now = Date.now();
  if (kind.table) {
    const listed = items.map(({ dir, status }) => ({ object: dir.record().object, status }));
    process.stdout.write(kind.table(listed, now, format === 'wide'));
    return;
  }
  const wide = format === 'wide' ? kind.wide : undefined;
  const rows = [
    [...(kind.columns ?? []), ...(wide?.columns ?? [])],
    ...items.map(({ dir, status }) => {
      const { object } = dir.record();
      return [...(kind.row?.(object, status, now) ?? []), ...(wide?.row(object) ?? [])];
    }),
  ];
  process.stdout.write(formatTable(rows));
}

/** `podbox delete KIND NAME...`: each workload and its pods, gracefully; `job.batch "NAME" deleted`. */
export async function deleteWorkloads(kind: KindNames, names: readonly string[], grace?: number): Promise<boolean> {
  const { deleteWorkload } = await import('../workload/apply.js');
  const resource = resourceOf(kind.apiVersion, kind.kind);
  if (names.length === 0)
    throw new PodboxError(
      'InvalidArgument',
      `no ${kind.kind} named`,
      `give one or more names: podbox delete ${kind.resources[1]} NAME`,
    );
  const results = await Promise.allSettled(names.map((n) => deleteWorkload(kind, n, { gracePeriod: grace })));
  if (names.length === 1 && results[0]!.status === 'rejected') throw results[0]!.reason;
  let ok = true;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') process.stdout.write(`${resource} "${names[i]}" deleted\n`);
    else if (isPodboxError(r.reason)) {
      ok = false;
      process.stderr.write(`podbox: ${r.reason.toLine()}\n`);
    } else throw r.reason;
  });
  return ok;
}

/** What `podbox delete -f PATH` deletes: the pods and workloads its files define (by name; validated as for run). */
export async function targetsIn(
  path: string,
): Promise<{ pods: string[]; workloads: { kind: KindNames; name: string }[] }> {
  const { readSources, holdsWorkloads, planOf } = await import('../workload/plan.js');
  const sources = readSources(path);
  if (sources.length === 1 && !holdsWorkloads(sources)) {
    const { manifestFrom } = await import('../api/manifest.js');
    return { pods: [manifestFrom(sources[0]!.docs, sources[0]!.where).pod.metadata.name], workloads: [] };
  }
  const plan = await planOf(sources);
  return {
    pods: plan.pods.map((m) => m.pod.metadata.name),
    workloads: plan.workloads.map((w) => ({ kind: w.kind, name: w.object.metadata.name })),
  };
}
