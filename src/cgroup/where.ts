import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';

/**
 * Where podbox may make cgroups for a user's pods, or why nowhere. In order:
 *  1. PODBOX_CGROUP_PARENT: a cgroup path inside each hierarchy ("/podbox-1001": that directory in
 *     every v1 controller's mount, or under /sys/fs/cgroup with v2), or on v2 the absolute path of a
 *     directory under /sys/fs/cgroup. It must be writable by the user (an administrator chowned it,
 *     as scripts/delegate-cgroups.sh does).
 *  2. root: the top of each hierarchy, as runc places cgroupsPath by default.
 *  3. v2: the topmost cgroup above the user's own that the user may write: what systemd delegates
 *     with user@UID.service (Delegate=yes). A process moves only between cgroups whose common
 *     ancestor it may write (cgroup-v2.rst "Delegation Containment"), so this is the one v2 parent
 *     that works without root: podbox and runc run inside it.
 *  4. v1: /podbox-UID in every hierarchy, owned by the user (scripts/delegate-cgroups.sh makes it).
 * runc given a cgroupsPath creates it in every v1 hierarchy mounted, and fails the container on any
 * it may not write (libcontainer/cgroups/fs Apply: only a rootless run without cgroupsPath skips
 * them), so a v1 parent counts only when it is writable in all of them.
 */

const CGROUP_MOUNT = '/sys/fs/cgroup';
/** the controllers podbox sets values in; on v2 the parent must have them (cgroup.controllers) */
export const CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

/** One cgroup hierarchy: its mount point and, for v1, the controllers it carries. */
export interface Hierarchy {
  mount: string;
  controllers: string[];
  /**
   * the v2 hierarchy of a hybrid machine (/sys/fs/cgroup/unified): runc as root puts each
   * container there too, and skips it where it may not write (libcontainer/cgroups/fs, the
   * unified path of a hybrid setup), so podbox needs it not but removes what is made there
   */
  hybrid?: boolean;
}

/** Where a user's pods get their cgroups: `parent` is a path inside every hierarchy. */
export interface CgroupPlace {
  version: 1 | 2;
  hierarchies: Hierarchy[];
  parent: string;
  /** how it was found, for doctor */
  found: string;
}

export type CgroupWhere = { place: CgroupPlace } | { why: string };

/** The user's environment that decides it (a pod's settings: lifecycle/pod-settings.ts). */
export interface CgroupEnv {
  PODBOX_CGROUP_PARENT?: string;
}

/**
 * The hierarchies this process sees: v2 when /sys/fs/cgroup is cgroup2 (runc's IsCgroup2UnifiedMode),
 * else every v1 one.
 */
export function cgroupHierarchies(mountinfo = readText('/proc/self/mountinfo')): { version: 1 | 2; list: Hierarchy[] } {
  const list: Hierarchy[] = [];
  let hybrid: Hierarchy | undefined;
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mount = pre.split(' ')[4]!;
    const [fstype, , superOptions] = post.split(' ');
    if (fstype === 'cgroup2' && mount === CGROUP_MOUNT) return { version: 2, list: [{ mount, controllers: [] }] };
    if (fstype === 'cgroup2' && mount === `${CGROUP_MOUNT}/unified`) hybrid = { mount, controllers: [], hybrid: true };
    if (fstype !== 'cgroup' || !mount.startsWith(`${CGROUP_MOUNT}/`)) continue;
    const controllers = (superOptions ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.includes('='));
    const named = (superOptions ?? '').split(',').find((o) => o.startsWith('name='));
    list.push({ mount, controllers: named ? [...controllers, named] : controllers });
  }
  return { version: 1, list: hybrid && list.length > 0 ? [...list, hybrid] : list };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A path inside a hierarchy, normalised: '/' for its top. */
export function hierarchyPath(p: string): string {
  return `/${p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/')}`;
}

/** The directory of cgroup path `p` in hierarchy `h`. */
export function cgroupDir(h: Hierarchy, p: string): string {
  const rel = hierarchyPath(p);
  return rel === '/' ? h.mount : `${h.mount}${rel}`;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The v2 controllers a parent lacks (cgroup.controllers) of those podbox sets. */
function missingV2Controllers(dir: string): string[] {
  const have = readText(`${dir}/cgroup.controllers`).trim().split(/\s+/);
  return CONTROLLERS.filter((c) => !have.includes(c));
}

/** A parent that every hierarchy lets this user write, or why not. */
function check(version: 1 | 2, list: Hierarchy[], parent: string, found: string): CgroupWhere {
  const unwritable = list
    .filter((h) => !h.hybrid)
    .map((h) => cgroupDir(h, parent))
    .filter((d) => !writable(d));
  if (unwritable.length > 0) {
    const more = unwritable.length > 1 ? ` (nor in ${unwritable.length - 1} other hierarchies)` : '';
    return { why: `${found}: ${unwritable[0]} is not writable${more}` };
  }
  if (version === 2) {
    const missing = missingV2Controllers(cgroupDir(list[0]!, parent));
    if (missing.length > 0)
      return { why: `${found}: controllers ${missing.join(', ')} are not delegated to ${cgroupDir(list[0]!, parent)}` };
  }
  return { place: { version, hierarchies: list, parent: hierarchyPath(parent), found } };
}

/** The user's own v2 cgroup (/proc/self/cgroup "0::PATH"). */
function ownV2Cgroup(): string | undefined {
  const line = readText('/proc/self/cgroup')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line ? hierarchyPath(line.slice(3)) : undefined;
}

/** The well-known parent scripts/delegate-cgroups.sh makes for a user on v1. */
export function delegatedParent(uid: number): string {
  return `/podbox-${uid}`;
}

/** What the machine shows this process: its cgroup hierarchies and, on v2, its own cgroup. */
export interface CgroupHost {
  version: 1 | 2;
  list: Hierarchy[];
  ownV2?: string;
}

export function cgroupHost(): CgroupHost {
  const h = cgroupHierarchies();
  return h.version === 2 ? { ...h, ownV2: ownV2Cgroup() } : h;
}

export function findCgroupPlace(env: CgroupEnv, uid = process.getuid?.() ?? 0, host = cgroupHost()): CgroupWhere {
  const { version, list } = host;
  if (list.length === 0) return { why: 'no cgroup hierarchy is mounted under /sys/fs/cgroup' };

  // Step 1: named by the user.
  const named = env.PODBOX_CGROUP_PARENT;
  if (named) {
    const mount = list[0]!.mount;
    const inside = version === 2 && named.startsWith(`${mount}/`) ? named.slice(mount.length) : named;
    return check(version, list, inside, `PODBOX_CGROUP_PARENT=${named}`);
  }

  // Step 2: root.
  if (uid === 0) return check(version, list, '/', 'the top of each hierarchy (as root)');

  // Step 3: v2, delegated above the user's own cgroup.
  if (version === 2) {
    const own = host.ownV2;
    let top: string | undefined;
    for (let p = own; p && p !== '/'; p = hierarchyPath(p.slice(0, p.lastIndexOf('/')))) {
      if (!writable(cgroupDir(list[0]!, p))) break;
      top = p;
    }
    if (top) return check(version, list, top, `delegated cgroup ${cgroupDir(list[0]!, top)}`);
    return { why: `no cgroup is delegated to you (cgroup v2; yours is ${own ?? 'unknown'})` };
  }

  // Step 4: v1, the delegated subtree.
  const mine = delegatedParent(uid);
  const dirs = list.filter((h) => !h.hybrid).map((h) => cgroupDir(h, mine));
  if (dirs.some((d) => existsSync(d))) return check(version, list, mine, `delegated cgroup ${mine}`);
  return { why: 'cgroups are v1 here and none is delegated to you' };
}

/**
 * Whether the memory hierarchy accounts swap (the kubelet's swapControllerAvailable): memsw (v1),
 * memory.swap.max (v2).
 */
export function swapAccounted(place: CgroupPlace): boolean {
  if (place.version === 2) return existsSync(`${cgroupDir(place.hierarchies[0]!, place.parent)}/memory.swap.max`);
  const memory = place.hierarchies.find((h) => h.controllers.includes('memory'));
  return memory !== undefined && existsSync(`${memory.mount}/memory.memsw.limit_in_bytes`);
}

/** How a user gets a cgroup delegated (doctor says it). */
export function delegationHint(version = cgroupHierarchies().version): string {
  const script = "have an administrator run `sudo scripts/delegate-cgroups.sh USER` (from podbox's sources)";
  if (version === 2)
    return (
      'with systemd, delegate the controllers to your user manager (a drop-in for user@.service: ' +
      '[Service] Delegate=cpu cpuset io memory pids; then log in again) and run podbox from your session, ' +
      `or ${script} and set PODBOX_CGROUP_PARENT=/podbox-UID`
    );
  return `${script}: it makes /podbox-UID, yours, in every controller's hierarchy, which podbox finds`;
}
