import { readdirSync, readFileSync } from 'node:fs';

/**
 * A child of `pid`, found by parent pid in /proc (field 4 of /proc/PID/stat). runc leaves the
 * process it starts as its only child: the container's first process for `runc run`, the
 * command for `runc exec`.
 */
export function childOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(entry);
    } catch { /* exited meanwhile */ }
  }
  return undefined;
}
