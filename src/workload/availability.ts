import type { ObservedPod } from './controller.js';

/**
 * Which pods are active, ready and available, as pkg/controller and podutil count them.
 * ObservedPod carries `ready` but not the Ready condition's lastTransitionTime, so the time each pod
 * was first seen ready is kept here; a controller keeps one of these across reconciles.
 */
export class ReadyTimes {
  private since = new Map<string, number>();

  /** Notes which pods are ready now; forgets pods that are gone or not ready. */
  observe(pods: readonly ObservedPod[], now: number): void {
    const seen = new Set<string>();
    for (const p of pods) {
      if (!p.ready) continue;
      seen.add(p.name);
      if (!this.since.has(p.name)) this.since.set(p.name, now);
    }
    for (const name of [...this.since.keys()]) if (!seen.has(name)) this.since.delete(name);
  }

  /** When the pod was first seen ready, or undefined. */
  readySince(pod: ObservedPod): number | undefined {
    return pod.ready ? this.since.get(pod.name) : undefined;
  }

  /**
   * podutil.IsPodAvailable: ready, and for at least minReadySeconds (pkg/api/v1/pod/util.go).
   */
  available(pod: ObservedPod, minReadySeconds: number, now: number): boolean {
    const since = this.readySince(pod);
    return since !== undefined && (minReadySeconds === 0 || since + minReadySeconds * 1000 <= now);
  }

  /** The next time one of `pods`, ready but not yet available, becomes available (for wakeAt). */
  nextAvailableAt(pods: readonly ObservedPod[], minReadySeconds: number, now: number): number | undefined {
    let next: number | undefined;
    for (const p of pods) {
      const since = this.readySince(p);
      if (since === undefined || minReadySeconds === 0) continue;
      const at = since + minReadySeconds * 1000;
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }
}

/** controller_utils.go IsPodActive: not Succeeded, not Failed, not being deleted. */
export function isActive(p: ObservedPod): boolean {
  return p.phase !== 'Succeeded' && p.phase !== 'Failed' && !p.terminating;
}

/** Succeeded or Failed: the pod will never run again (restartPolicy Always only ends so by eviction or deadline). */
export function isTerminal(p: ObservedPod): boolean {
  return p.phase === 'Succeeded' || p.phase === 'Failed';
}

/** The earlier of two optional times. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** A status object as Go's encoding/json writes one with `omitempty` counters: zeros left out. */
export function withoutZeros(status: Record<string, unknown>, keep: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(status).filter(([k, v]) => keep.includes(k) || (v !== 0 && v !== undefined)),
  );
}
