import { join } from 'node:path';
import { trace } from '../host/trace.js';
import { bundlePaths, readConfigText } from './bundle.js';
import { hostPidOfChild } from '../host/proc.js';
import { namespaceInode } from '../sandbox/trace-steps.js';
import type { NamespaceName } from '../sandbox/native.js';

/**
 * A container's steps as `--trace` says them (host/trace.ts): what its config.json asks runc for,
 * read from the config as written (container/oci-config.ts), and the container once it runs, with
 * the inodes of its namespaces read from /proc.
 */

/** OCI namespace types, named as under /proc/PID/ns/. */
const PROC_NS: Record<string, NamespaceName> = {
  pid: 'pid',
  mount: 'mnt',
  cgroup: 'cgroup',
  network: 'net',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
};

interface OciShape {
  process: {
    user: { uid: number; gid: number; additionalGids?: number[] };
    capabilities: { bounding: string[]; effective: string[] };
    noNewPrivileges: boolean;
  };
  root: { readonly: boolean };
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: unknown;
  };
}

/** config.json was written for container `name`: what runc will join, create, mount and drop, read back from it. */
export function traceBundle(pausePid: number, podDir: string, name: string): void {
  const t = trace();
  if (!t) return;
  const text = readConfigText(podDir, name);
  if (text === undefined) return;
  const c = JSON.parse(text) as OciShape;
  const bundleDir = bundlePaths(podDir, name).dir;
  const container = name;
  t.step('bundle', `wrote ${join(bundleDir, 'config.json')} (the OCI bundle runc is given)`, {
    container,
    detail: { bundle: bundleDir },
  });
  for (const n of c.linux.namespaces) {
    const ns = PROC_NS[n.type] ?? (n.type as NamespaceName);
    if (n.path) {
      const inode = namespaceInode(pausePid, ns);
      const shared =
        ns === 'pid'
          ? "pause's, shareProcessNamespace: the pod's containers see each other and pause reaps their orphans"
          : "pause's: shared with the pod";
      t.step('ns', `joins ${ns} namespace ${inode} by path ${n.path} (${shared})`, {
        container,
        pid: pausePid,
        ns,
        inode,
        detail: { path: n.path },
      });
    } else {
      const why = ns === 'pid' ? ": the container does not see the pod's other processes" : ': its own';
      t.step('ns', `runc creates a new ${ns} namespace${why}`, { container, ns });
    }
  }
  const user = namespaceInode(pausePid, 'user');
  t.step('ns', `stays in the pod's user namespace ${user} (runc runs inside it): its root is you outside`, {
    container,
    ns: 'user',
    inode: user,
  });
  for (const m of c.mounts) {
    const ro = m.options?.includes('ro') ? ', read-only' : '';
    const text =
      m.type === 'bind'
        ? `runc binds ${m.source} on ${m.destination}${ro}`
        : `runc mounts ${m.type} on ${m.destination}${ro}`;
    t.step('mount', text, { container, detail: { ...m } });
  }
  const kept = c.process.capabilities.effective;
  const u = c.process.user;
  t.step(
    'drop',
    `runs as uid ${u.uid} gid ${u.gid}${u.additionalGids?.length ? ` groups ${u.additionalGids.join(',')}` : ''}; ` +
      `capabilities kept: ${kept.length ? kept.map((x) => x.replace(/^CAP_/, '')).join(' ') : 'none'} ` +
      `(bounding set: ${c.process.capabilities.bounding.length} of the kernel's; every other one dropped)`,
    { container, detail: { user: u, capabilities: c.process.capabilities } },
  );
  t.step(
    'drop',
    `masked paths (hidden: /dev/null or an empty tmpfs over them): ${c.linux.maskedPaths.join(' ') || 'none'}`,
    { container, detail: { maskedPaths: c.linux.maskedPaths } },
  );
  t.step('drop', `read-only paths: ${c.linux.readonlyPaths.join(' ') || 'none'}`, {
    container,
    detail: { readonlyPaths: c.linux.readonlyPaths, rootReadonly: c.root.readonly },
  });
  t.step(
    'drop',
    `no_new_privs ${c.process.noNewPrivileges ? 'set: setuid programs cannot raise privileges' : 'not set'}; ` +
      `seccomp: ${c.linux.seccomp ? 'a filter' : 'no filter'}; root filesystem ${c.root.readonly ? 'read-only' : 'writable'}`,
    { container, detail: { noNewPrivileges: c.process.noNewPrivileges, seccomp: Boolean(c.linux.seccomp) } },
  );
}

/** runc started the container: its first process, its pids and its namespaces. */
export function traceContainerStarted(pausePid: number, name: string, id: string, pid: number): void {
  const t = trace();
  if (!t) return;
  const hostPid = hostPidOfChild(pausePid, pid);
  if (hostPid === undefined) {
    t.step('started', `${id} started: pid ${pid} in the pod (it has exited already)`, {
      container: name,
      detail: { id, podPid: pid },
    });
    return;
  }
  const inodes: Record<string, number | undefined> = {};
  for (const ns of ['user', 'mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup'] as const) {
    inodes[ns] = namespaceInode(hostPid, ns);
  }
  const list = Object.entries(inodes)
    .map(([ns, i]) => `${ns} ${i ?? '?'}`)
    .join(', ');
  t.step('started', `${id} runs: pid ${pid} in the pod, host pid ${hostPid}; namespaces ${list}`, {
    container: name,
    pid: hostPid,
    detail: { id, podPid: pid, namespaces: inodes },
  });
}
