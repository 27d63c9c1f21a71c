import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { trace, type Tracer } from '../host/trace.js';
import { MS, type NamespaceName, type NativeMount } from './native.js';

/**
 * The sandbox's kernel steps as `--trace` says them (host/trace.ts): what each step did, read back
 * from the kernel after it (inodes from /proc/PID/ns/*, id maps from /proc/PID/uid_map), so a
 * trace shows what is, not what podbox meant. Each function is called by the step's owner, once,
 * and does nothing when the step is not traced.
 */

/** What the namespaces are for, in a few words a learner can hold on to. */
const NAMESPACE_ROLE: Record<NamespaceName, string> = {
  user: 'its own uids and gids; root inside is not root outside',
  mnt: 'its own mount table',
  pid: 'its own process ids, starting at 1',
  net: 'its own network interfaces, addresses and ports',
  ipc: 'its own System V IPC and POSIX message queues',
  uts: 'its own hostname',
  cgroup: 'its own view of the cgroup tree',
};

/** The inode of a process's namespace (`ls -l /proc/PID/ns`): equal inode, same namespace. */
export function namespaceInode(pid: number, ns: NamespaceName): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

/** clone(2) made `pid` in new namespaces: the user namespace first (it owns the others), then each other one. */
export function traceNamespacesCreated(pid: number, namespaces: NamespaceName[], program: string): void {
  const t = trace();
  if (!t) return;
  const who = `pid ${pid}, ${basename(program)}`;
  const ordered = [...namespaces].sort((a, b) => (a === 'user' ? -1 : b === 'user' ? 1 : 0));
  for (const ns of ordered) {
    const inode = namespaceInode(pid, ns);
    const step = ns === 'user' ? 'userns' : 'ns';
    t.step(step, `created ${ns} namespace ${inode} (${who}): ${NAMESPACE_ROLE[ns]}`, { pid, ns, inode });
  }
}

/** A range of /proc/PID/uid_map: ids inside from `inside`, mapped to `outside` on, `count` of them. */
export interface MapRange {
  inside: number;
  outside: number;
  count: number;
}

/** Parses /proc/PID/uid_map or gid_map ("         0       1000          1" a line). */
export function parseIdMap(text: string): MapRange[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

/** "0→1000 (1 id), 1→100000 (65535 ids)": each range, inside → outside. */
export function idMapText(ranges: MapRange[]): string {
  return ranges.map((r) => `${r.inside}→${r.outside} (${r.count} id${r.count === 1 ? '' : 's'})`).join(', ');
}

/** The id maps of `pid`'s user namespace were written: read them back and say by whom. */
export function traceIdMaps(pid: number, by: 'helpers' | 'direct'): void {
  const t = trace();
  if (!t) return;
  const inode = namespaceInode(pid, 'user');
  for (const kind of ['uid', 'gid'] as const) {
    let ranges: MapRange[] = [];
    try {
      ranges = parseIdMap(readFileSync(`/proc/${pid}/${kind}_map`, 'utf8'));
    } catch {
      /* gone */
    }
    const writer =
      by === 'helpers'
        ? `new${kind}map (setuid root, checks /etc/sub${kind})`
        : process.getuid?.() === 0
          ? 'podbox directly, as root'
          : `podbox directly (one id: your own${kind === 'gid' ? ', setgroups denied first' : ''})`;
    t.step('idmap', `${kind} map of user namespace ${inode} written by ${writer}: ${idMapText(ranges)}`, {
      pid,
      ns: 'user',
      inode,
      detail: { kind, by: by === 'helpers' ? `new${kind}map` : 'direct', ranges },
    });
  }
}

/** The child, its maps written, set itself up (native createNamespaces) and exec'd `program`. */
export function traceChildReady(
  pid: number,
  o: { program: string; hostname?: string; rootDir?: string; mountProc?: boolean; namespaces: NamespaceName[] },
): void {
  const t = trace();
  if (!t) return;
  const name = basename(o.program);
  if (o.rootDir)
    t.step(
      'mount',
      `${name} (pid ${pid}) moved into its own root ${o.rootDir} (pivot_root): the host's files are gone`,
      {
        pid,
        detail: { root: o.rootDir },
      },
    );
  if (o.mountProc) t.step('mount', `proc on /proc for ${name}: it shows the new PID namespace's processes`, { pid });
  if (o.hostname !== undefined && o.namespaces.includes('uts'))
    t.step('ns', `hostname set to ${o.hostname} in uts namespace ${namespaceInode(pid, 'uts')}`, {
      pid,
      ns: 'uts',
      inode: namespaceInode(pid, 'uts'),
    });
  if (o.namespaces.includes('net'))
    t.step('network', `loopback lo brought up in net namespace ${namespaceInode(pid, 'net')} (127.0.0.1)`, {
      pid,
      ns: 'net',
      inode: namespaceInode(pid, 'net'),
    });
}

/** pause runs: why it is PID 1 and what that means for the pod. */
export function traceSandboxStarted(pid: number): void {
  trace()?.step(
    'pause',
    `pause started: host pid ${pid}, PID 1 of the pod's new PID namespace ${namespaceInode(pid, 'pid')}; ` +
      "it holds the pod's namespaces open, reaps every orphan of the pod and records how it ended, " +
      'and when it exits the kernel kills every process of the pod',
    { pid, ns: 'pid', inode: namespaceInode(pid, 'pid') },
  );
}

/** One line for a mount(2) or umount(2) done in pause's mount namespace. */
export function mountText(m: NativeMount): string {
  if (m.fstype === 'overlay') {
    const opts = Object.fromEntries((m.data ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
    return (
      `overlay on ${m.target}: lowerdir=${opts.lowerdir} (the image, read-only) ` +
      `upperdir=${opts.upperdir} (the container's writes) workdir=${opts.workdir}`
    );
  }
  if (m.fstype === 'tmpfs') return `tmpfs (memory) on ${m.target} ${m.data ?? ''}`.trimEnd();
  const ro = m.flags & MS.RDONLY ? 'read-only' : 'read-write';
  if (m.flags & MS.REMOUNT) return `remount ${m.target} ${ro}`;
  if (m.flags & MS.BIND) return `bind ${m.source} on ${m.target}${m.flags & MS.REC ? ' (recursive)' : ''}`;
  return `${m.fstype ?? 'mount'} ${m.source ?? ''} on ${m.target}`;
}

/** Mounts made (after unmounts) in the mount namespace of pid, as root of the pod's user namespace. */
export function traceMounts(pid: number, mounts: NativeMount[], unmounts: string[]): void {
  const t = trace();
  if (!t) return;
  const inode = namespaceInode(pid, 'mnt');
  for (const u of unmounts) t.step('unmount', `unmount ${u} in mount namespace ${inode}`, { pid, ns: 'mnt', inode });
  for (const m of mounts) {
    t.step('mount', `${mountText(m)} (mount namespace ${inode})`, {
      pid,
      ns: 'mnt',
      inode,
      detail: { source: m.source, target: m.target, fstype: m.fstype, flags: m.flags, data: m.data },
    });
  }
}

/**
 * pause is about to be stopped (teardown): reads its namespaces while they exist, and returns what
 * says, once pause has exited, that they are released. Undefined when not traced.
 */
export function traceSandboxEnd(pausePid: number): (() => void) | undefined {
  const t: Tracer | undefined = trace();
  if (!t) return undefined;
  const kinds: NamespaceName[] = ['user', 'mnt', 'pid', 'net', 'ipc', 'uts'];
  const inodes = kinds.map((ns) => [ns, namespaceInode(pausePid, ns)] as const);
  t.step('signal', `SIGTERM to pause (pid ${pausePid}): it exits, and the kernel kills the rest of the pod`, {
    pid: pausePid,
  });
  return () => {
    t.step('exited', `pause (pid ${pausePid}) exited: the pod has no process left`, { pid: pausePid });
    for (const [ns, inode] of inodes) {
      if (inode === undefined) continue;
      const what = ns === 'mnt' ? ', with every overlay and tmpfs mounted in it' : '';
      t.step('released', `${ns} namespace ${inode} released by pause${what}`, { pid: pausePid, ns, inode });
    }
  };
}

/** pause reaped a container's first process and recorded how it ended (exit-records.ts). */
export function traceContainerExited(
  name: string,
  id: string,
  r: { pid: number; exitCode: number; signal?: number },
): void {
  const how = r.signal ? `was killed by signal ${r.signal}` : `exited with code ${r.exitCode}`;
  trace()?.step('exited', `${id} (pid ${r.pid} in the pod) ${how}: pause reaped it and recorded it`, {
    container: name,
    detail: { id, podPid: r.pid, exitCode: r.exitCode, signal: r.signal },
  });
}

/** A process joined namespaces of another (setns(2) on /proc/PID/ns/*). */
export function traceJoined(pid: number, of: number, namespaces: NamespaceName[], why: string): void {
  const t = trace();
  if (!t) return;
  const list = namespaces.map((ns) => `${ns} ${namespaceInode(of, ns)}`).join(', ');
  t.step('ns', `pid ${pid} joined namespaces ${list} of pid ${of}: ${why}`, {
    pid,
    detail: { of, namespaces: Object.fromEntries(namespaces.map((ns) => [ns, namespaceInode(of, ns)])) },
  });
}

/** Trees removed (teardown, restart): how, and which. */
export function traceRemoved(paths: string[], how: string): void {
  const t = trace();
  if (!t) return;
  for (const p of paths) t.step('remove', `removed ${p} (${how})`, { detail: { path: p } });
}
