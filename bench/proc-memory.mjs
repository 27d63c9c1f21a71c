// Memory a tool leaves running: which processes a workload left behind, and their RSS and PSS.
//
// The bench cannot ask the tools (podbox's supervisor design is changing; podman's conmon, its
// rootless pause process and a floor container have no common parent), so it finds them from /proc:
//   1. seeds: processes that did not exist before the workload and carry the bench's marker in
//      their environment. Every command the bench starts gets BENCH_MARK=<token>, and every
//      container it asks for sets it too, so daemonised helpers (setsid, double fork) are found
//      by what they inherited, whoever their parent is now;
//   2. closure: processes whose parent is in the set, new processes that are the parent of a member,
//      and processes in a namespace (user, pid, net, ipc, uts) that a member entered and the bench
//      is not in. That adds what does not inherit the environment: podman's conmon (it gets an
//      environment of its own), a pod's infra container (it shares the pod's net, ipc and uts
//      namespaces), and podman's catatonit pause process that holds rootless podman's user namespace
//      (it existed before the workload).
// Processes of other users' and other benches' pods never share the marker or the namespaces.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const NAMESPACES = ['user', 'pid', 'net', 'ipc', 'uts'];

const PAGE_KEYS = ['Rss', 'Pss'];

/** pid -> {ppid, start, state, comm}, for every process readable now. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited while listing
    }
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    table.set(pid, {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      state: rest[0],
      ppid: Number(rest[1]),
      start: rest[19], // field 22, starttime: tells a reused pid from the process that had it before
    });
  }
  return table;
}

const key = (pid, p) => `${pid}:${p.start}`;

/** What existed before a workload: compare with `leftRunning` afterwards. */
export function processSnapshot() {
  const keys = new Set();
  for (const [pid, p] of processTable()) keys.add(key(pid, p));
  return keys;
}

function readOr(path, fallback) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function namespace(pid, kind) {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/** {Rss, Pss} in KiB from smaps_rollup, or undefined when it cannot be read. */
function rollup(pid) {
  const text = readOr(`/proc/${pid}/smaps_rollup`, '');
  const kib = {};
  for (const k of PAGE_KEYS) {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) return undefined;
    kib[k] = Number(m[1]);
  }
  return kib;
}

/**
 * The processes left running since `before` (a processSnapshot) that belong to the workload
 * marked `marker` ("BENCH_MARK=token"), with their memory; the bench and its own children are left out.
 */
export function leftRunning(before, marker) {
  const table = processTable();
  const self = process.pid;
  const ownNs = new Set(NAMESPACES.map((kind) => namespace(self, kind)));
  // The bench, its children still being waited on, and its ancestors (npm, the shell) are never counted.
  const ancestors = new Set();
  for (let pid = self; pid > 0 && table.has(pid) && !ancestors.has(pid); pid = table.get(pid).ppid) ancestors.add(pid);
  const isOwnChild = (pid) => table.get(pid)?.ppid === self || ancestors.has(pid);
  const members = new Set();
  for (const [pid, p] of table) {
    if (before.has(key(pid, p)) || isOwnChild(pid) || p.state === 'Z') continue;
    if (readOr(`/proc/${pid}/environ`, '').split('\0').includes(marker)) members.add(pid);
  }
  // Step 2: grow the set until nothing is added (parents before children is not guaranteed by pid order).
  for (let grew = true; grew;) {
    grew = false;
    const memberNs = new Set();
    for (const pid of members)
      for (const kind of NAMESPACES) {
        const ns = namespace(pid, kind);
        if (ns && !ownNs.has(ns)) memberNs.add(ns);
      }
    for (const [pid, p] of table) {
      if (members.has(pid) || isOwnChild(pid) || p.state === 'Z') continue;
      const isNew = !before.has(key(pid, p));
      const parentOfMember = isNew && [...members].some((m) => table.get(m)?.ppid === pid);
      const inNs = NAMESPACES.some((kind) => memberNs.has(namespace(pid, kind)));
      if (members.has(p.ppid) || parentOfMember || inNs) {
        members.add(pid);
        grew = true;
      }
    }
  }
  return [...members].map((pid) => {
    const mem = rollup(pid);
    return { pid, comm: table.get(pid).comm, rssKiB: mem?.Rss, pssKiB: mem?.Pss };
  });
}

/** Totals of a leftRunning list, in KiB; `unreadable` counts processes whose smaps_rollup was not readable. */
export function memoryTotals(procs) {
  const sum = (k) => procs.reduce((s, p) => s + (p[k] ?? 0), 0);
  return {
    processes: procs.length,
    rssKiB: sum('rssKiB'),
    pssKiB: sum('pssKiB'),
    unreadable: procs.filter((p) => p.rssKiB === undefined).length,
    byCommand: Object.fromEntries(
      [...new Set(procs.map((p) => p.comm))].map((c) => [c, procs.filter((p) => p.comm === c).length]),
    ),
  };
}

/**
 * leftRunning once the set has settled: the same processes under the same names in two reads
 * `intervalMs` apart (a start command may return while a container is still between runc's init and
 * its exec), or the last read after `timeoutMs`.
 */
export async function settledLeftRunning(before, marker, { intervalMs = 250, timeoutMs = 10_000 } = {}) {
  const shape = (procs) =>
    procs
      .map((p) => `${p.pid}:${p.comm}`)
      .sort()
      .join(' ');
  const deadline = performance.now() + timeoutMs;
  let last = leftRunning(before, marker);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const now = leftRunning(before, marker);
    if (shape(now) === shape(last) || performance.now() > deadline) return now;
    last = now;
  }
}
