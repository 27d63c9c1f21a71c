import type { SourceFile } from './file-source.js';
import type { StaticSource } from './static-pod.js';

/**
 * What `podbox serve DIR` does to make the pods equal to the files: pure, the files as read and the
 * pods as found in, actions out (static/server.ts performs them). The kubelet merges its file
 * source's pods by UID (pkg/kubelet/config/config.go podStorage.merge): a UID not seen before is an
 * addition, a UID gone is a removal; the UID being the config hash, a changed file is the old pod
 * removed and a new one added, and the pod workers start the new one once the old one, of the same
 * name, has terminated (pod_workers.go allowStaticPodStart). Here: delete gracefully, then create.
 */

/** A pod as found in the pods directory. */
export interface ObservedPod {
  name: string;
  /** undefined: not a static pod (`podbox run` made it) */
  source?: StaticSource;
  /** its processes died with no supervisor to see it (a reboot, a kill): it is made again */
  lost: boolean;
}

export type Action =
  | { type: 'create'; file: string; name: string }
  | { type: 'replace'; file: string; name: string; why: 'changed' | 'lost' }
  | { type: 'delete'; name: string; why: string }
  /** a file that makes no pod: reported; `pod` is the pod the file made before, which keeps running */
  | { type: 'problem'; file: string; problem: string; pod?: string }
  /** a pod of the name exists and is not this directory's: left alone, reported */
  | { type: 'conflict'; file: string; name: string; owner: string }
  /** `delete --force` kept this pod deleted; its file has changed since: the mark goes */
  | { type: 'release'; name: string };

/**
 * The actions that make the pods of `dir` equal to its files. `held`: pod name → the hash `podbox
 * delete --force` deleted it at (not made again while the file keeps that hash).
 */
export function plan(dir: string, files: SourceFile[], pods: ObservedPod[], held: Map<string, string>): Action[] {
  const actions: Action[] = [];
  const byName = new Map(pods.map((p) => [p.name, p]));
  const ours = pods.filter((p) => p.source?.dir === dir);
  const wanted = new Set<string>();
  for (const f of files) {
    if (!('manifest' in f)) {
      // The file's last good pod keeps running: a half-saved file does not take a service down.
      const running = ours.find((p) => p.source!.file === f.file);
      actions.push({ type: 'problem', file: f.file, problem: f.problem, pod: running?.name });
      if (running) wanted.add(running.name);
      continue;
    }
    wanted.add(f.name);
    const heldAt = held.get(f.name);
    if (heldAt !== undefined && heldAt !== f.hash) actions.push({ type: 'release', name: f.name });
    const p = byName.get(f.name);
    if (!p) {
      if (heldAt !== f.hash) actions.push({ type: 'create', file: f.file, name: f.name });
    } else if (p.source?.dir !== dir) {
      const owner = p.source ? `podbox serve ${p.source.dir}` : '`podbox run`';
      actions.push({ type: 'conflict', file: f.file, name: f.name, owner });
    } else if (p.source.hash !== f.hash) {
      actions.push({ type: 'replace', file: f.file, name: f.name, why: 'changed' });
    } else if (p.lost) {
      actions.push({ type: 'replace', file: f.file, name: f.name, why: 'lost' });
    }
  }
  for (const p of ours) {
    if (wanted.has(p.name)) continue;
    const stillThere = files.some((f) => f.file === p.source!.file);
    actions.push({ type: 'delete', name: p.name, why: stillThere ? 'its file names another pod now' : 'file removed' });
  }
  return actions;
}
