import { readdirSync, readFileSync } from 'node:fs';

/**
 * What podbox reads of other processes in /proc (proc(5)): one parser of /proc/PID/stat, and the
 * questions asked of it.
 */
export interface ProcStat {
  /** R, S, D, Z (zombie), T, X... */
  state: string;
  ppid: number;
  /** PF_EXITING: the process is dying (it may wait in the kernel for its PID namespace to empty) */
  exiting: boolean;
  /** clock ticks after boot: with the pid, it names one process even after the pid is reused */
  startTime: number;
}

/** /proc/PID/stat, or undefined when no such process is visible. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // flags is field 9 (fields[6] here); PF_EXITING is 0x4 (include/linux/sched.h).
  const exiting = (Number(fields[6]) & 0x4) !== 0;
  return { state: fields[0]!, ppid: Number(fields[1]), exiting, startTime: Number(fields[19]) };
}

/** Start time of a process (field 22 of /proc/PID/stat), to tell a live pid from a reused one. */
export function processStartTime(pid: number): number | undefined {
  return procStat(pid)?.startTime;
}

/**
 * Does `pid` still run? A zombie has finished: it only waits for its parent to reap it; a process
 * that is exiting has finished too (pause, killed, waits in the kernel for its PID namespace to
 * empty before it becomes a zombie).
 */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X' && !s.exiting;
}

/**
 * A child of `pid`, found by parent pid in /proc (field 4 of /proc/PID/stat). runc leaves the
 * process it starts as its only child: the container's first process for `runc run`, the
 * command for `runc exec`.
 */
export function childOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && procStat(Number(entry))?.ppid === pid) return Number(entry);
  }
  return undefined;
}

/**
 * The host pid of the child of `parent` whose pid in its PID namespace is `nsPid` (the `NSpid:`
 * line of /proc/PID/status lists a process's pid in each nested PID namespace, outermost first).
 */
export function hostPidOfChild(parent: number, nsPid: number): number | undefined {
  let children: string[];
  try {
    children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/);
  } catch {
    return undefined;
  }
  for (const c of children) {
    try {
      const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${c}/status`, 'utf8'))?.[1];
      if (line?.split(/\s+/).map(Number)[1] === nsPid) return Number(c);
    } catch {
      /* gone */
    }
  }
  return undefined;
}
