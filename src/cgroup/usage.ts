import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessCgroups } from './process-cgroup.js';

/**
 * A container's resource usage as `kubectl top` reports it: cumulative CPU time, and the memory
 * working set — usage less the inactive file cache the kernel can take back at once, which is what the
 * kubelet's eviction and metrics-server count (cadvisor's container_memory_working_set_bytes).
 */
export interface Usage {
  /** CPU time used so far, in nanoseconds */
  cpuNanos: number;
  workingSetBytes: number;
}

/** Reads `dirs`' usage: cgroup v1 when its memory controller is there (hybrid machines), else v2. */
export function readUsage(dirs: ProcessCgroups): Usage | undefined {
  try {
    const memory = dirs.v1.get('memory');
    const cpuacct = dirs.v1.get('cpuacct');
    if (memory && cpuacct) {
      const usage = Number(readFileSync(join(memory, 'memory.usage_in_bytes'), 'utf8'));
      const inactive = statField(readFileSync(join(memory, 'memory.stat'), 'utf8'), 'total_inactive_file');
      return {
        cpuNanos: Number(readFileSync(join(cpuacct, 'cpuacct.usage'), 'utf8')),
        workingSetBytes: workingSet(usage, inactive),
      };
    }
    if (dirs.v2) {
      const usage = Number(readFileSync(join(dirs.v2, 'memory.current'), 'utf8'));
      const inactive = statField(readFileSync(join(dirs.v2, 'memory.stat'), 'utf8'), 'inactive_file');
      const usec = statField(readFileSync(join(dirs.v2, 'cpu.stat'), 'utf8'), 'usage_usec');
      return { cpuNanos: usec * 1000, workingSetBytes: workingSet(usage, inactive) };
    }
  } catch {
    /* a controller not enabled in this cgroup, or the container just ended */
  }
  return undefined;
}

/** A `key value` line's value in memory.stat / cpu.stat (0 when absent). */
export function statField(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** cadvisor's working set: usage minus inactive file pages, never below zero. */
export function workingSet(usage: number, inactiveFile: number): number {
  return Math.max(0, usage - inactiveFile);
}
