import { mkdirSync, readFileSync, readdirSync, existsSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ensureStateDir } from '../paths.js';
import { PodboxError, errnoOf } from '../errors.js';
import { writeAtomic } from '../host/fs.js';
import { alive, processStartTime } from '../host/proc.js';
import type { Pod, ConfigMap, Secret, Manifest, PersistentVolumeClaim } from '../api/types.js';
import type { StoredImage } from '../image/store.js';
import type { PodStatus, PodEvent } from '../api/status.js';
import type { PodFiles } from '../sandbox/pod-files.js';
import type { PreparedVolume } from '../volume/volumes.js';
import type { PullSecrets } from '../registry/pull-secrets.js';
import type { PodNetwork } from '../sandbox/network.js';
import type { PodLimits } from '../cgroup/pod-limits.js';

/**
 * A pod's directory under the pods state dir: what the supervisor writes and every other
 * command reads. The supervisor is the only writer of status.json (atomically, by rename).
 *
 *   pod.json       the pod as given and as defaulted, who supervises it, options
 *   status.json    the Kubernetes status plus what the kernel knows (pids)
 *   events.json    the pod's events
 *   logs/NAME/N.log  container NAME's output, instance N (CRI log format)
 *   delete-request.json  written by the supervisor when deletion is asked for (kept for `get`: Terminating)
 *   exits          pause's record of every exit in the pod (sandbox/exit-records.ts)
 *   io/ID.out|err  the FIFOs a container writes its output into (container/output.ts)
 *   runc/          runc's state; containers/NAME/ bundles; volumes/NAME/ emptyDirs; etc/ hosts...
 */
const DELETE_REQUEST_FILE = 'delete-request.json';

/** A deletion asked for by `podbox delete`: the grace period to use, and when it was asked. */
export interface DeleteRequest {
  /** undefined: the pod's own terminationGracePeriodSeconds */
  gracePeriodSeconds?: number;
  /** ms since the epoch */
  requestedAt: number;
}

export interface PodRecord {
  pod: Pod;
  /** the Pod object exactly as given, for `get -o yaml` */
  original: unknown;
  createdAt: string;
  /** the supervisor that created the pod (pods outlive it: a successor adopts them) */
  supervisor: ProcessRef;
  /** remove the pod when it finishes (a foreground run without --keep) */
  removeWhenDone: boolean;
  /** the foreground `podbox run` that follows the pod: when it is gone, the pod is deleted */
  foreground?: ProcessRef;
  /** the PODBOX_* settings of the command that made the pod, which its supervisor applies to it */
  settings?: Record<string, string>;
  /** the ConfigMaps and Secrets given with the pod */
  configMaps: ConfigMap[];
  secrets: Secret[];
  /** the PersistentVolumeClaims given with the pod (volume/claim.ts) */
  claims?: PersistentVolumeClaim[];
  /** container name → image id it runs (pods of podbox before pulls; now RuntimeInfo.images) */
  images: Record<string, string>;
  /**
   * the credentials of the pod's imagePullSecrets and the names not given, worked out by `run`
   * (so the supervisor needs no manifest schema; the Secrets are in `secrets` anyway)
   */
  pullSecrets?: PullSecrets;
}

/** A process named by its pid and its start time (a pid alone may be reused). */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

/** A container's current instance as the kernel knows it. */
export interface ContainerRuntime {
  instance: number;
  /** its first process in the pod's PID namespace (as pause's exit records name it), while it runs */
  pid?: number;
  /** the same process as the host sees it */
  hostPid?: number;
}

export interface RuntimeInfo {
  /** pause, which anchors the pod: the pod lives as long as it does */
  pause?: ProcessRef;
  containers: Record<string, ContainerRuntime>;
  /** container → the id of the image it runs (pulled by the supervisor, pod-machine.ts ensureImage) */
  images?: Record<string, string>;
  /** image volume → the id of the image it shows (volume/image-volume.ts): in use while the pod is */
  volumeImages?: Record<string, string>;
  /** the sandbox was made: the pod was created (a pod whose supervisor died before is garbage) */
  created?: boolean;
  /** the supervisor finished its work: everything is torn down */
  finished: boolean;
  /** what only a running pod needs (layers, volumes, runc's state) is gone: the rest is the user's own files */
  cleaned?: boolean;
  /** the exit status `podbox run` reports for this pod */
  exitCode?: number;
  /** how far the pod's exit records (pause's `exits` file) have been read */
  exitsOffset?: number;
  /** the pod's state machine, from which a later supervisor adopts the pod (lifecycle/machine-snapshot.ts) */
  machine?: unknown;
  /** the pod's files and volumes as made at creation, for the containers a later supervisor starts */
  made?: { podFiles: PodFiles; volumes: PreparedVolume[] };
  /** the pod's network: its addresses, its user-mode stack, its published ports (sandbox/network.ts) */
  network?: PodNetwork;
  /** the pod's cgroups, or why the limits it asks for are not enforced (cgroup/pod-limits.ts) */
  limits?: PodLimits;
}

export interface PodState {
  status: PodStatus;
  runtime: RuntimeInfo;
}

export function podsDir(): string {
  return ensureStateDir('pods');
}

/**
 * Names in the pods directory that are not pods start with a dot (a pod name never does):
 *   .new-NAME.PID.RANDOM/   a pod being claimed by process PID (see PodDir.create)
 *   .supervisor.{lock,sock,log}  the user's supervisor (lifecycle/user-supervisor.ts)
 *   .net-A.B.N, .port-PROTO-PORT  a pod's subnet and host ports, claimed (sandbox/network.ts)
 *   .serve-KEY/             `podbox serve DIR` (static/serve-state.ts)
 */
const NEW_PREFIX = '.new-';

export class PodDir {
  /** the directory's identity when this process claimed or opened it (see stillOurs) */
  private pinned?: { dev: number; ino: number };

  constructor(
    readonly name: string,
    readonly path: string,
  ) {}

  static of(name: string): PodDir {
    return new PodDir(name, join(podsDir(), name));
  }

  /**
   * Claims the name with the record already in place: the directory is made and filled under a
   * private name, then renamed to NAME, which fails if a pod of that name exists. So a pod
   * directory never exists without its record, and two `podbox run` of one name cannot both win.
   */
  static create(record: PodRecord): PodDir {
    const name = record.pod.metadata.name;
    const d = PodDir.of(name);
    const tmp = join(podsDir(), `${NEW_PREFIX}${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { mode: 0o700 });
    try {
      writeAtomic(join(tmp, 'pod.json'), JSON.stringify(record, null, 1));
      renameSync(tmp, d.path);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (errnoOf(e) === 'EEXIST' || errnoOf(e) === 'ENOTEMPTY') {
        throw new PodboxError(
          'PodExists',
          `pod "${name}" already exists`,
          `delete it with \`podbox delete ${name}\` or run with --replace`,
        );
      }
      throw e;
    }
    d.pin();
    return d;
  }

  /** Remembers which directory this is, so a pod directory removed or replaced meanwhile is noticed. */
  pin(): void {
    const st = statSync(this.path);
    this.pinned = { dev: st.dev, ino: st.ino };
  }

  /** Is the directory at the path still the pinned one (not removed, not replaced by another pod's)? */
  isPinnedDir(): boolean {
    try {
      const st = statSync(this.path);
      return this.pinned !== undefined && st.dev === this.pinned.dev && st.ino === this.pinned.ino;
    } catch {
      return false;
    }
  }

  /**
   * After the directory was removed under a running pod, a runc call may have made `NAME/runc/`
   * again: remove such remains if they are empty (never anything else: the path may be another pod's).
   */
  removeEmptyRemains(): void {
    for (const d of [this.file('runc'), this.file('runc-logs'), this.path]) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty, or not there */
      }
    }
  }

  /** The pinned directory, with its record: not removed (e.g. with /run/user at logout), even in part. */
  stillOurs(): boolean {
    return this.isPinnedDir() && existsSync(this.file('pod.json'));
  }

  /** Leftovers of claims whose process died (`.new-*` names): removed by garbage collection. */
  static leftovers(): { path: string; pid: number }[] {
    const dir = podsDir();
    const out: { path: string; pid: number }[] = [];
    for (const n of readdirSync(dir)) {
      if (!n.startsWith(NEW_PREFIX)) continue;
      const pid = Number(/\.(\d+)\.[^.]+$/.exec(n)?.[1]);
      if (Number.isInteger(pid)) out.push({ path: join(dir, n), pid });
    }
    return out;
  }

  static open(name: string): PodDir {
    const d = PodDir.of(name);
    if (name.startsWith('.') || !existsSync(join(d.path, 'pod.json'))) {
      throw new PodboxError('PodNotFound', `pod "${name}" not found`, 'list pods with `podbox get`');
    }
    return d;
  }

  static list(): PodDir[] {
    const dir = podsDir();
    return readdirSync(dir)
      .sort()
      .filter((n) => !n.startsWith('.') && existsSync(join(dir, n, 'pod.json')))
      .map((n) => new PodDir(n, join(dir, n)));
  }

  file(...parts: string[]): string {
    return join(this.path, ...parts);
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

  /** Records that deletion was asked for, with the grace period to use. */
  requestDelete(gracePeriodSeconds: number | undefined): void {
    writeAtomic(this.file(DELETE_REQUEST_FILE), JSON.stringify({ gracePeriodSeconds }));
  }

  /** The deletion asked for, if any. */
  deleteRequest(): DeleteRequest | undefined {
    const file = this.file(DELETE_REQUEST_FILE);
    try {
      const req = JSON.parse(readFileSync(file, 'utf8')) as { gracePeriodSeconds?: unknown };
      const grace = typeof req.gracePeriodSeconds === 'number' ? req.gracePeriodSeconds : undefined;
      return { gracePeriodSeconds: grace, requestedAt: statSync(file).mtimeMs };
    } catch {
      return undefined;
    }
  }

  logFile(container: string, instance: number): string {
    return this.file('logs', container, `${instance}.log`);
  }
}

/** Is this still the same process (not a reused pid, not a zombie)? */
export function isAlive(p: ProcessRef): boolean {
  return alive(p.pid) && processStartTime(p.pid) === p.startTime;
}

/** This process, as a ProcessRef. */
export function thisProcess(): ProcessRef {
  return { pid: process.pid, startTime: processStartTime(process.pid)! };
}

/**
 * Is the pod alive? Its pause process anchors it: the pod lives as long as pause does, whichever
 * supervisor (if any, right now) supervises it. Before pause exists, the pod lives while the
 * supervisor creating it does.
 */
export function podAlive(r: PodRecord, s: PodState | undefined): boolean {
  if (s?.runtime.finished) return false;
  if (s?.runtime.pause) return isAlive(s.runtime.pause);
  return isAlive(r.supervisor);
}

/** A pod that uses something (an image, a named volume), and whether it is still alive. */
export interface PodUser {
  pod: string;
  running: boolean;
}

/**
 * key → the pods whose record and state name it (`keysOf`), finished pods kept too: who uses an image
 * (pod/image-users.ts) or a named volume (volume/named-volumes.ts), in one walk of the pods directory.
 */
export function podUsers(keysOf: (r: PodRecord, s: PodState | undefined) => Iterable<string>): Map<string, PodUser[]> {
  const out = new Map<string, PodUser[]>();
  for (const dir of PodDir.list()) {
    let record;
    try {
      record = dir.record();
    } catch {
      continue; // a pod being created or deleted meanwhile
    }
    const state = dir.state();
    const running = podAlive(record, state);
    for (const k of new Set(keysOf(record, state))) out.set(k, [...(out.get(k) ?? []), { pod: dir.name, running }]);
  }
  return out;
}

/** What a supervisor starts from: the record, less who supervises it. */
export type LaunchRequest = Omit<PodRecord, 'supervisor'>;

export function launchRequest(
  manifest: Manifest,
  images: Map<string, StoredImage>,
  removeWhenDone: boolean,
): LaunchRequest {
  return {
    pod: manifest.pod,
    original: manifest.original,
    createdAt: new Date().toISOString(),
    removeWhenDone,
    configMaps: [...manifest.configMaps.values()],
    secrets: [...manifest.secrets.values()],
    claims: [...(manifest.claims?.values() ?? [])],
    images: Object.fromEntries([...images].map(([c, img]) => [c, img.id])),
  };
}

/** The record of a pod this process supervises. */
export function recordOf(request: LaunchRequest): PodRecord {
  return { ...request, supervisor: thisProcess() };
}

/** The manifest a record was made from (the ConfigMaps and Secrets keyed by name again). */
export function manifestOf(record: LaunchRequest): Manifest {
  return {
    pod: record.pod,
    original: record.original,
    configMaps: new Map(record.configMaps.map((c) => [c.metadata.name, c])),
    secrets: new Map(record.secrets.map((s) => [s.metadata.name, s])),
    claims: new Map((record.claims ?? []).map((c) => [c.metadata.name, c])),
  };
}
