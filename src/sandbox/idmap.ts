import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { PodboxError } from '../errors.js';
import { traceIdMaps } from './trace-steps.js';
import { runProgram } from '../host/spawn-program.js';

/**
 * How ids inside a pod map to the host. Rootless (the product): pod uid 0 is the invoking user and
 * pod uids 1..65535 are the user's subordinate range from /etc/subuid (written by the setuid
 * helpers newuidmap/newgidmap, Debian's `uidmap`). As root: an identity map of 0..65535, so pod
 * uid N is host uid N, still inside a user namespace (root in a pod is not root on the host).
 */
export interface IdRange {
  /** first host id the pod's id `inside` maps to */
  inside: number;
  outside: number;
  count: number;
}

export interface IdMapping {
  uid: IdRange[];
  gid: IdRange[];
  /** true when the pod has the whole 0..65535 range; false for the single-id fallback */
  full: boolean;
  /** written by newuidmap/newgidmap (rootless) or directly (root, or the single-id fallback) */
  helper: boolean;
}

export const POD_ID_COUNT = 65536;

export interface SubordinateRange {
  start: number;
  count: number;
}

/** Parses /etc/subuid or /etc/subgid and returns the first range of `user` (by name or uid). */
export function findSubordinateRange(text: string, user: string, id: number): SubordinateRange | undefined {
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (!owner || start === undefined || count === undefined) continue;
    if (owner !== user && owner !== String(id)) continue;
    const s = Number(start),
      c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return undefined;
}

/** shadow's login.defs defaults SUB_UID_MIN/SUB_GID_MIN and SUB_UID_COUNT/SUB_GID_COUNT (useradd.c). */
const SUB_ID_MIN = 100_000;

/**
 * A subordinate range no entry of /etc/subuid or /etc/subgid overlaps, to suggest to a user who has
 * none: useradd hands out SUB_UID_COUNT-sized ranges from SUB_UID_MIN on (100000, 165536, …; shadow's
 * subordinateio.c find_new_sub_uids); this takes the first such step above every existing range of
 * both files, so one `usermod` line serves uids and gids and cannot collide with another user.
 */
export function freeSubordinateRange(subuid: string, subgid: string): SubordinateRange {
  let end = SUB_ID_MIN;
  for (const line of `${subuid}\n${subgid}`.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (!owner || owner.startsWith('#') || start === undefined || count === undefined) continue;
    const s = Number(start),
      c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) end = Math.max(end, s + c);
  }
  const steps = Math.ceil((end - SUB_ID_MIN) / POD_ID_COUNT);
  return { start: SUB_ID_MIN + steps * POD_ID_COUNT, count: POD_ID_COUNT };
}

/** The command that gives `user` a free subordinate range, for doctor and the single-id warning. */
export function addSubordinateRangeCommand(user: string, subuid: string, subgid: string): string {
  const r = freeSubordinateRange(subuid, subgid);
  const range = `${r.start}-${r.start + r.count - 1}`;
  return `sudo usermod --add-subuids ${range} --add-subgids ${range} ${user}`;
}

let warned = false;

/** Decides the mapping for this user on this host. */
export function podIdMapping(): IdMapping {
  const uid = process.getuid!(),
    gid = process.getgid!();
  if (uid === 0) {
    const identity = [{ inside: 0, outside: 0, count: POD_ID_COUNT }];
    return { uid: identity, gid: identity, full: true, helper: false };
  }
  const name = userInfo().username;
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const subuidText = read('/etc/subuid'),
    subgidText = read('/etc/subgid');
  const subuid = findSubordinateRange(subuidText, name, uid);
  const subgid = findSubordinateRange(subgidText, name, gid);
  const helpers = existsSync('/usr/bin/newuidmap') && existsSync('/usr/bin/newgidmap');
  if (subuid && subgid && helpers) {
    const rest = (r: SubordinateRange) => Math.min(r.count, POD_ID_COUNT - 1);
    return {
      uid: [
        { inside: 0, outside: uid, count: 1 },
        { inside: 1, outside: subuid.start, count: rest(subuid) },
      ],
      gid: [
        { inside: 0, outside: gid, count: 1 },
        { inside: 1, outside: subgid.start, count: rest(subgid) },
      ],
      full: rest(subuid) === POD_ID_COUNT - 1 && rest(subgid) === POD_ID_COUNT - 1,
      helper: true,
    };
  }
  if (!warned && !process.env.PODBOX_QUIET_IDMAP) {
    warned = true;
    const why = !helpers
      ? 'newuidmap/newgidmap are not installed (apt-get install uidmap)'
      : `${name} has no subordinate id range in /etc/subuid and /etc/subgid ` +
        `(add one: ${addSubordinateRangeCommand(name, subuidText, subgidText)})`;
    process.stderr.write(`podbox: warning: pods get a single id (uid 0 = you) because ${why}\n`);
  }
  return {
    uid: [{ inside: 0, outside: uid, count: 1 }],
    gid: [{ inside: 0, outside: gid, count: 1 }],
    full: false,
    helper: false,
  };
}

/** Writes the maps of the (waiting) child `pid` that just entered a new user namespace. */
/** newuidmap or newgidmap, to its end; throws with what it said on stderr when it fails, as execFile does. */
async function idMapHelper(argv: string[]): Promise<void> {
  const end = await runProgram(argv);
  if (end.code !== 0)
    throw Object.assign(new Error(`${argv[0]} exited with ${end.code ?? `signal ${end.signal}`}`), {
      stderr: end.stderr,
    });
}

export async function writeIdMaps(pid: number, m: IdMapping): Promise<void> {
  const args = (ranges: IdRange[]) => ranges.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)]);
  const lines = (ranges: IdRange[]) => ranges.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join('');
  try {
    if (m.helper) {
      await Promise.all([
        idMapHelper(['newuidmap', String(pid), ...args(m.uid)]),
        idMapHelper(['newgidmap', String(pid), ...args(m.gid)]),
      ]);
    } else {
      writeFileSync(`/proc/${pid}/uid_map`, lines(m.uid));
      // Without the setuid helper an unprivileged process must give up setgroups first.
      if (process.getuid!() !== 0) writeFileSync(`/proc/${pid}/setgroups`, 'deny');
      writeFileSync(`/proc/${pid}/gid_map`, lines(m.gid));
    }
    traceIdMaps(pid, m.helper ? 'helpers' : 'direct');
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n').pop();
    throw new PodboxError(
      'SandboxFailed',
      `cannot write the user namespace id maps: ${detail}`,
      'check /etc/subuid and /etc/subgid, and that newuidmap/newgidmap are setuid root (run `podbox doctor`)',
    );
  }
}
