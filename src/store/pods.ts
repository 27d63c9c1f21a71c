import { mkdirSync, readFileSync, writeFileSync, renameSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureStateDir } from '../paths.js';
import { PodboxError } from '../errors.js';
import type { Pod, ConfigMap, Secret } from '../spec/types.js';
import type { PodStatus, PodEvent } from '../lifecycle/status.js';

/**
 * A pod's directory under the pods state dir: what the supervisor writes and every other
 * command reads. The supervisor is the only writer of status.json (atomically, by rename).
 *
 *   pod.json       the pod as given and as defaulted, who supervises it, options
 *   status.json    the Kubernetes status plus what the kernel knows (pids)
 *   events.json    the pod's events
 *   logs/NAME/N.log  container NAME's output, instance N (CRI log format)
 *   runc/          runc's state; containers/NAME/ bundles; volumes/NAME/ emptyDirs; etc/ hosts...
 */
/** Written by `podbox delete` before it signals the supervisor: the grace period to use. */
export const DELETE_REQUEST_FILE = 'delete-request.json';

export interface PodRecord {
  pod: Pod;
  /** the Pod object exactly as given, for `get -o yaml` */
  original: unknown;
  createdAt: string;
  supervisor: { pid: number; startTime: number };
  /** remove the pod when it finishes (a foreground run without --keep) */
  removeWhenDone: boolean;
  /** the ConfigMaps and Secrets given with the pod */
  configMaps: ConfigMap[];
  secrets: Secret[];
  /** container name → image id it runs */
  images: Record<string, string>;
}

export interface RuntimeInfo {
  pausePid?: number;
  /** container name → host pid of its runc and, when known, its init's pid in the host */
  containers: Record<string, { runcPid?: number; instance: number }>;
  /** the supervisor finished its work: everything is torn down */
  finished: boolean;
  /** the exit status `podbox run` reports for this pod */
  exitCode?: number;
}

export interface PodState {
  status: PodStatus;
  runtime: RuntimeInfo;
}

export function podsDir(): string {
  return ensureStateDir('pods');
}

export class PodDir {
  constructor(readonly name: string, readonly path: string) {}

  static of(name: string): PodDir {
    return new PodDir(name, join(podsDir(), name));
  }

  /** Claims the name: mkdir is atomic, so two `podbox run` of one name cannot both win. */
  static create(name: string): PodDir {
    const d = PodDir.of(name);
    try {
      mkdirSync(d.path, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new PodboxError('PodExists', `pod "${name}" already exists`, 'delete it with `podbox delete ' + name + '` or run with --replace');
      }
      throw e;
    }
    return d;
  }

  static open(name: string): PodDir {
    const d = PodDir.of(name);
    if (!existsSync(join(d.path, 'pod.json'))) {
      throw new PodboxError('PodNotFound', `pod "${name}" not found`, 'list pods with `podbox get`');
    }
    return d;
  }

  static list(): PodDir[] {
    const dir = podsDir();
    return readdirSync(dir).sort().filter((n) => existsSync(join(dir, n, 'pod.json'))).map((n) => new PodDir(n, join(dir, n)));
  }

  file(...parts: string[]): string {
    return join(this.path, ...parts);
  }

  writeRecord(r: PodRecord): void {
    writeAtomic(this.file('pod.json'), JSON.stringify(r, null, 1));
  }

  record(): PodRecord {
    return JSON.parse(readFileSync(this.file('pod.json'), 'utf8')) as PodRecord;
  }

  writeState(s: PodState): void {
    writeAtomic(this.file('status.json'), JSON.stringify(s));
  }

  state(): PodState | undefined {
    try {
      return JSON.parse(readFileSync(this.file('status.json'), 'utf8')) as PodState;
    } catch {
      return undefined;
    }
  }

  writeEvents(events: PodEvent[]): void {
    writeAtomic(this.file('events.json'), JSON.stringify(events));
  }

  events(): PodEvent[] {
    try {
      return JSON.parse(readFileSync(this.file('events.json'), 'utf8')) as PodEvent[];
    } catch {
      return [];
    }
  }

  logFile(container: string, instance: number): string {
    return this.file('logs', container, `${instance}.log`);
  }

  /** Removes what is left once no process of the pod runs (files owned by the user only). */
  removeOwnFiles(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Start time of a process (field 22 of /proc/PID/stat), to tell a live pid from a reused one. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** Is the pod's supervisor still alive (the same process, not a reused pid)? */
export function supervisorAlive(r: PodRecord): boolean {
  return processStartTime(r.supervisor.pid) === r.supervisor.startTime;
}
