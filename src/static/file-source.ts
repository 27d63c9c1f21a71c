import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest } from '../api/manifest.js';
import { readManifestFile } from '../api/manifest-file.js';
import { networkModeOf } from '../sandbox/network.js';
import { checkIdsMapped } from '../sandbox/mapped-ids.js';
import { podIdMapping } from '../sandbox/idmap.js';
import { isPodboxError } from '../errors.js';
import type { Manifest } from '../api/types.js';
import { isManifestName, staticManifest, staticPodName } from './static-pod.js';

/**
 * The file source of `podbox serve DIR`, as the kubelet's (pkg/kubelet/config/file.go): every manifest
 * of the directory read afresh, a file that cannot be used reported on its own and the others used
 * (extractFromDir: "Can't process manifest file").
 */

/** One manifest file as read: the pod it makes, or why it makes none. */
export type SourceFile =
  | { file: string; name: string; hash: string; manifest: Manifest }
  | { file: string; problem: string; /** the pod the file named, when it got as far as a name */ name?: string };

/** The manifest file names of `dir`, sorted (file.go sorts too), regular files only. */
export function manifestFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter(isManifestName)
    .sort()
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isFile();
      } catch {
        return false; // removed meanwhile
      }
    });
}

/** Reads and parses every manifest of `dir` (absolute); `seen` is stamped on the pods made. */
export function readSource(dir: string, seen: Date): SourceFile[] {
  const out: SourceFile[] = [];
  const byName = new Map<string, string>();
  for (const file of manifestFiles(dir)) {
    const r = readOne(dir, file, seen);
    // Two files of one pod: the first (in name order) makes it, as only one pod can have the name.
    if ('manifest' in r) {
      const first = byName.get(r.name);
      if (first !== undefined) {
        out.push({ file, problem: `${join(dir, file)}: names pod "${r.name}", as ${first} does: ignored` });
        continue;
      }
      byName.set(r.name, file);
    }
    out.push(r);
  }
  return out;
}

function readOne(dir: string, file: string, seen: Date): SourceFile {
  const path = join(dir, file);
  let name: string | undefined;
  try {
    const parsed = parseManifest(readManifestFile(path), path);
    name = staticPodName(parsed.pod.metadata.name);
    // What `podbox run` refuses before it makes anything is refused here, for this file alone.
    networkModeOf(parsed.pod, process.env.PODBOX_NETWORK);
    checkIdsMapped(parsed.pod, podIdMapping);
    const manifest = staticManifest(parsed, dir, path, seen);
    return { file, name, hash: manifest.pod.metadata.uid!, manifest };
  } catch (e) {
    if (!isPodboxError(e)) throw e;
    return { file, problem: e.toLine(), name };
  }
}
