import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { podsDir, type ProcessRef } from '../pod/dir.js';
import { writeAtomic } from '../host/fs.js';
import { PodboxError, errnoOf } from '../errors.js';
import type { ConfigMap, PersistentVolumeClaim, Secret } from '../api/types.js';
import type { WorkloadObject } from './object.js';

/**
 * A workload's directory: what its host (workload/host.ts) writes and `get`/`delete` read, under
 * the pods state dir's `.workloads/KIND/NAME/` (a dot name: never a pod's, pod/dir.ts):
 *
 *   record.json   the object as stored (defaults, uid, creationTimestamp), what its pods may refer
 *                 to, the PODBOX_* settings of the `run` that made it
 *   status.json   its .status as Kubernetes shows it (written by the host, atomically)
 *   events.json   its events (SuccessfulCreate, Completed, BackoffLimitExceeded...)
 *   memory.json   the controller's snapshot, for a later host to go on from
 *   host.json     the detached host process (`podbox __workload KIND NAME`), while one runs
 */
export interface WorkloadRecord {
  object: WorkloadObject;
  configMaps: ConfigMap[];
  secrets: Secret[];
  claims: PersistentVolumeClaim[];
  /** the PODBOX_* settings of the `run` that made it, for its pods */
  settings: Record<string, string>;
  /** hosted by a foreground `podbox run`: when that run is gone (killed), the workload goes too */
  foreground?: boolean;
}

export interface WorkloadEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** ms since the epoch */
  at: number;
}

const ROOT = '.workloads';

function kindDir(kind: string): string {
  return join(podsDir(), ROOT, kind.toLowerCase());
}

export class WorkloadDir {
  constructor(
    readonly kind: string,
    readonly name: string,
    readonly path: string,
  ) {}

  static of(kind: string, name: string): WorkloadDir {
    return new WorkloadDir(kind, name, join(kindDir(kind), name));
  }

  /** Claims KIND/NAME with its record in place (made under a private name, then renamed: pod/dir.ts create). */
  static create(record: WorkloadRecord, resource: string): WorkloadDir {
    const { kind, metadata } = record.object;
    const d = WorkloadDir.of(kind, metadata.name);
    mkdirSync(kindDir(kind), { recursive: true, mode: 0o700 });
    const tmp = join(kindDir(kind), `.new-${metadata.name}.${process.pid}.${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { mode: 0o700 });
    try {
      writeAtomic(join(tmp, 'record.json'), JSON.stringify(record));
      renameSync(tmp, d.path);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (errnoOf(e) === 'EEXIST' || errnoOf(e) === 'ENOTEMPTY')
        throw new PodboxError(
          'WorkloadExists',
          `${resource} "${metadata.name}" already exists`,
          `delete it with \`podbox delete ${kind.toLowerCase()} ${metadata.name}\` or run with --replace`,
        );
      throw e;
    }
    return d;
  }

  static open(kind: string, name: string, resource: string): WorkloadDir {
    const d = WorkloadDir.of(kind, name);
    if (name.startsWith('.') || name.includes('/') || !existsSync(d.file('record.json')))
      throw new PodboxError(
        'WorkloadNotFound',
        `${resource} "${name}" not found`,
        `list them with \`podbox get ${kind.toLowerCase()}s\``,
      );
    return d;
  }

  static list(kind: string): WorkloadDir[] {
    let names: string[];
    try {
      names = readdirSync(kindDir(kind));
    } catch {
      return [];
    }
    return names
      .sort()
      .filter((n) => !n.startsWith('.') && existsSync(join(kindDir(kind), n, 'record.json')))
      .map((n) => WorkloadDir.of(kind, n));
  }

  file(name: string): string {
    return join(this.path, name);
  }

  record(): WorkloadRecord {
    return JSON.parse(readFileSync(this.file('record.json'), 'utf8')) as WorkloadRecord;
  }

  private read<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.file(name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  status(): Record<string, unknown> {
    return this.read<Record<string, unknown>>('status.json') ?? {};
  }

  writeStatus(s: Record<string, unknown>): void {
    writeAtomic(this.file('status.json'), JSON.stringify(s));
  }

  events(): WorkloadEvent[] {
    return this.read<WorkloadEvent[]>('events.json') ?? [];
  }

  writeEvents(e: WorkloadEvent[]): void {
    writeAtomic(this.file('events.json'), JSON.stringify(e));
  }

  memory(): unknown {
    return this.read('memory.json');
  }

  writeMemory(m: unknown): void {
    writeAtomic(this.file('memory.json'), JSON.stringify(m));
  }

  host(): ProcessRef | undefined {
    return this.read<ProcessRef>('host.json');
  }

  writeHost(p: ProcessRef | undefined): void {
    if (p) writeAtomic(this.file('host.json'), JSON.stringify(p));
    else rmSync(this.file('host.json'), { force: true });
  }

  /** Removes the workload's files, and the kind's and `.workloads` directories once empty. */
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
    for (const d of [kindDir(this.kind), join(podsDir(), ROOT)]) {
      try {
        rmdirSync(d);
      } catch {
        break; // not empty
      }
    }
  }
}
