import type { Pod } from '../api/types.js';
import type { IdMapping, IdRange } from './idmap.js';
import { PodboxError } from '../errors.js';

/**
 * Every id a manifest names for the pod's processes and files (securityContext runAsUser, runAsGroup,
 * fsGroup, supplementalGroups, of the pod and of each container) must be one the pod's user namespace
 * maps (rootless: 0..65535 with a subordinate range, only 0 without one). Otherwise runc fails the
 * container with "unable to setup user: invalid argument" (StartError, exit 128) and no file can be
 * given to the fsGroup: refused at `run`, in one line, before anything is made. On a cluster the same
 * ids work (a node maps all of them); the hint says how to stay inside the range.
 * A pod that names no id reads no id file.
 */
export function checkIdsMapped(pod: Pod, idMapping: () => IdMapping): void {
  const named: { where: string; field: string; id: number; kind: 'uid' | 'gid' }[] = [];
  const sc = pod.spec.securityContext;
  const podField = (field: 'runAsUser' | 'runAsGroup' | 'fsGroup', kind: 'uid' | 'gid') => {
    if (sc[field] !== undefined) named.push({ where: '', field, id: sc[field], kind });
  };
  podField('fsGroup', 'gid');
  podField('runAsUser', 'uid');
  podField('runAsGroup', 'gid');
  for (const g of sc.supplementalGroups ?? [])
    named.push({ where: '', field: 'supplementalGroups', id: g, kind: 'gid' });
  for (const [list, cs] of [
    ['initContainers', pod.spec.initContainers ?? []],
    ['containers', pod.spec.containers],
  ] as const) {
    cs.forEach((c, i) => {
      const csc = c.securityContext ?? {};
      const where = `${list}[${i}] "${c.name}": `;
      if (csc.runAsUser !== undefined) named.push({ where, field: 'runAsUser', id: csc.runAsUser, kind: 'uid' });
      if (csc.runAsGroup !== undefined) named.push({ where, field: 'runAsGroup', id: csc.runAsGroup, kind: 'gid' });
    });
  }
  if (named.length === 0) return;
  const mapping = idMapping();
  for (const n of named) {
    const ranges = mapping[n.kind];
    if (ranges.some((r) => n.id >= r.inside && n.id < r.inside + r.count)) continue;
    throw new PodboxError(
      'InvalidManifest',
      `pod "${pod.metadata.name}": ${n.where}securityContext.${n.field} ${n.id} is outside the pod's ${n.kind}s ` +
        `(${rangeText(ranges)})`,
      mapping.full
        ? `choose ${CHOICE[n.field]} in that range`
        : `choose ${CHOICE[n.field]} in that range, or give your user a subordinate ${n.kind} range (run \`podbox doctor\`)`,
    );
  }
}

const CHOICE: Record<string, string> = {
  fsGroup: 'an fsGroup',
  runAsUser: 'a runAsUser',
  runAsGroup: 'a runAsGroup',
  supplementalGroups: 'supplementalGroups',
};

/** Adjacent ranges read as one (rootless: 0 = you, 1..65535 = your subordinate ids: "0-65535"). */
function rangeText(ranges: IdRange[]): string {
  const out: string[] = [];
  let first = -1,
    end = -1;
  for (const r of [...ranges].sort((a, b) => a.inside - b.inside)) {
    if (r.inside !== end) {
      if (first >= 0) out.push(first === end - 1 ? `${first}` : `${first}-${end - 1}`);
      first = r.inside;
    }
    end = r.inside + r.count;
  }
  out.push(first === end - 1 ? `${first}` : `${first}-${end - 1}`);
  return out.join(', ');
}
