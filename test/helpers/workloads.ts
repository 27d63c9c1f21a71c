import type { ObservedPod, Reconciled, WorkloadController } from '../../src/workload/controller.js';
import type { RandomIndex } from '../../src/workload/naming.js';

/** An apps/v1 object of `kind` with template labels {app: name} and one container, as a file would hold it. */
export function appsObject(kind: string, name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, uid: `uid-${name}` },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'localhost/busybox:test' }] },
      },
      ...spec,
    },
  };
}

/** A fixed sequence of random choices (0, 1, 2, ...), so generated names are known in advance. */
export function counting(): RandomIndex {
  let i = 0;
  return (n) => i++ % n;
}

/**
 * The host's side, in memory: the pods a controller owns, with its actions applied at once
 * (a created pod is Pending, a deleted one is gone) and a way to move a pod to a phase.
 */
export class PodWorld {
  readonly pods = new Map<string, ObservedPod>();
  /** every action applied so far, as "create NAME" / "delete NAME" */
  readonly log: string[] = [];

  constructor(
    private readonly controller: WorkloadController,
    public now = Date.parse('2026-01-01T00:00:00Z'),
  ) {}

  /** One reconcile, its actions applied; returns what the controller said. */
  sync(): Reconciled {
    const r = this.controller.reconcile([...this.pods.values()], this.now);
    for (const a of r.actions) {
      if ('create' in a) {
        const { name, labels = {}, annotations = {} } = a.create.metadata;
        this.pods.set(name, {
          name,
          labels,
          annotations,
          phase: 'Pending',
          ready: false,
          created: this.now,
          terminating: false,
          terminated: [],
        });
        this.log.push(`create ${name}`);
      } else {
        this.pods.delete(a.delete);
        this.log.push(`delete ${a.delete}`);
      }
    }
    return r;
  }

  set(name: string, phase: ObservedPod['phase'], ready = phase === 'Running'): void {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    this.pods.set(name, { ...p, phase, ready });
  }

  /** Every pod Running and Ready. */
  allReady(): void {
    for (const name of this.pods.keys()) this.set(name, 'Running', true);
  }

  names(): string[] {
    return [...this.pods.keys()].sort();
  }

  advance(seconds: number): void {
    this.now += seconds * 1000;
  }

  /** The log since the last call. */
  drain(): string[] {
    return this.log.splice(0, this.log.length);
  }
}
