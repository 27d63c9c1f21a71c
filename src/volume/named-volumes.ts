import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureStateDir } from '../paths.js';
import { PodboxError, errnoOf } from '../errors.js';
import { writeAtomic } from '../host/fs.js';
import { dnsSubdomainProblem } from '../api/names.js';
import { podUsers, type PodUser } from '../pod/dir.js';
import { removeTrees } from '../sandbox/userns.js';

/**
 * The named-volume store (`podbox volume ...`; what a persistentVolumeClaim uses, claim.ts), under
 * the volumes state dir (paths.ts), laid out as podman lays out its local volumes
 * (libpod/volume_internal.go: <volume path>/NAME/_data):
 *
 *   NAME/volume.json   {"name","createdAt","labels","accessModes","storage","origin"}
 *   NAME/_data/        the data, bound into the pods that use the volume
 *   .trash-NAME.RANDOM being removed
 *
 * A name is a DNS subdomain (as a PersistentVolumeClaim's is), so it is one path component and
 * never leads out of the store. A volume is kept until `podbox volume rm` or `prune`.
 */
export interface NamedVolume {
  name: string;
  createdAt: string;
  labels?: Record<string, string>;
  /** spec.accessModes of the claim that made it (recorded, not enforced: one machine) */
  accessModes?: string[];
  /** spec.resources.requests.storage of that claim (recorded, not enforced: no quota on a directory) */
  storage?: string;
  /** made from a PersistentVolumeClaim document, or on first use by a claim with none */
  origin: 'claim' | 'first-use';
}

const META = 'volume.json';
const DATA = '_data';

export function volumesDir(): string {
  return ensureStateDir('volumes');
}

/** Throws unless `name` is a valid volume name (a DNS subdomain). */
export function checkVolumeName(name: string): void {
  const problem = dnsSubdomainProblem(name);
  if (problem) {
    throw new PodboxError(
      'InvalidArgument',
      `volume name "${name}" is invalid: ${problem}`,
      'name volumes with lowercase letters, digits, - and .',
    );
  }
}

/** The directory that holds volume `name`'s data. */
export function volumeDataPath(name: string): string {
  checkVolumeName(name);
  return join(volumesDir(), name, DATA);
}

export function volumeNotFound(name: string): PodboxError {
  return new PodboxError(
    'VolumeNotFound',
    `volume "${name}" not found`,
    'see `podbox volume ls` for the volumes there are',
  );
}

/** Volume `name`'s record, or undefined when there is no such volume. */
export function getVolume(name: string): NamedVolume | undefined {
  checkVolumeName(name);
  try {
    return JSON.parse(readFileSync(join(volumesDir(), name, META), 'utf8')) as NamedVolume;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Volume `name`, made with `meta` if it does not exist yet (mkdir is the claim: two pods creating it
 * at once get one volume). An existing volume keeps its record. The data directory is 0755 and the
 * user's, which is uid 0 in a rootless pod (as a podman volume's _data is).
 */
export function ensureVolume(
  name: string,
  meta: Omit<NamedVolume, 'name' | 'createdAt'>,
): { volume: NamedVolume; created: boolean } {
  checkVolumeName(name);
  const dir = join(volumesDir(), name);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e;
    const existing = getVolume(name);
    if (existing) return { volume: existing, created: false };
    // Claimed by another process that has not written the record yet, or left half-made: (re)write it.
  }
  mkdirSync(join(dir, DATA), { recursive: true, mode: 0o755 });
  const volume: NamedVolume = { name, createdAt: new Date().toISOString(), ...meta };
  writeAtomic(join(dir, META), `${JSON.stringify(volume, null, 2)}\n`);
  return { volume, created: true };
}

/** Every volume of the store, by name. */
export function listVolumes(): NamedVolume[] {
  const dir = volumesDir();
  const out: NamedVolume[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, name, META), 'utf8')) as NamedVolume);
    } catch {
      /* being made or removed */
    }
  }
  return out;
}

/** Volume name → the pods whose persistentVolumeClaim volumes use it (kept finished pods too). */
export function volumeUsers(): Map<string, PodUser[]> {
  return podUsers((record) =>
    (record.pod.spec.volumes ?? []).flatMap((v) =>
      v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
    ),
  );
}

/**
 * Bytes of the files in a volume, as `du --apparent-size` counts them; what the user may not read (a
 * directory a container made private) is left out.
 */
export function volumeSize(name: string): number {
  let total = 0;
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      try {
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p);
        else total += st.size;
      } catch {
        /* gone meanwhile */
      }
    }
  };
  walk(volumeDataPath(name));
  return total;
}

/**
 * Removes volume `name`: refused while a pod uses it, naming the pods (podman volume rm refuses a
 * volume in use by a container unless --force, which removes those containers; podbox's --force
 * never takes a pod down, so it only lets a finished pod's volume go). The volume is renamed away
 * first, so it is gone for every other command at once; its files may be owned by the user's
 * subordinate ids (a container's), so they are removed as removeTrees removes a pod's.
 */
export async function removeVolume(name: string, users: PodUser[], force: boolean): Promise<void> {
  checkVolumeName(name);
  const dir = join(volumesDir(), name);
  if (!existsSync(dir)) throw volumeNotFound(name);
  const blocking = (force ? users.filter((u) => u.running) : users).map((u) => u.pod);
  if (blocking.length > 0) {
    const them = blocking.length > 1 ? 'them' : 'it';
    const running = users.some((u) => u.running);
    throw new PodboxError(
      'InvalidArgument',
      `volume "${name}" is in use by pod(s) ${blocking.join(', ')}`,
      `delete ${them} first with \`podbox delete ${blocking.join(' ')}\`` +
        (running ? ' (--force does not remove a volume a running pod uses)' : ', or use --force'),
    );
  }
  const trash = join(volumesDir(), `.trash-${name}.${randomBytes(4).toString('hex')}`);
  renameSync(dir, trash);
  await removeTrees([trash]);
}
