import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podsDir } from '../pod/dir.js';
import { takeFileLock } from '../host/lock-file.js';
import { writeAtomic } from '../host/fs.js';
import { PodboxError } from '../errors.js';

/**
 * What `podbox serve DIR` keeps, in the pods directory (the user's runtime dir: gone at logout, as
 * the pods are), under a name made from DIR's absolute path:
 *
 *   .serve-KEY/lock      flock'ed by the serve of DIR while it runs (a second one is refused); its pid
 *   .serve-KEY/serve.log what a background serve (-d) says: its log lines, a file's parse error
 *   .serve-KEY/held/POD  `podbox delete --force POD`: the config hash the pod is kept deleted at
 */
export class ServeState {
  constructor(
    readonly dir: string,
    readonly path: string,
  ) {}

  /** The state of serving `dir` (absolute, symlinks resolved). */
  static of(dir: string): ServeState {
    const key = createHash('sha256').update(dir).digest('hex').slice(0, 16);
    return new ServeState(dir, join(podsDir(), `.serve-${key}`));
  }

  get logFile(): string {
    return join(this.path, 'serve.log');
  }

  private get lockFile(): string {
    return join(this.path, 'lock');
  }

  /**
   * Takes the lock of serving DIR, for as long as this process lives (an flock: a serve killed holds
   * nothing), or refuses naming the serve that holds it. Returns what releases it.
   */
  lock(): () => void {
    mkdirSync(this.path, { recursive: true, mode: 0o700 });
    const fd = takeFileLock(this.lockFile);
    if (fd === undefined) {
      const pid = this.servingPid();
      throw new PodboxError(
        'InvalidArgument',
        `${this.dir} is already served${pid ? ` by podbox serve (pid ${pid})` : ''}`,
        `stop that one first (\`podbox serve --stop ${this.dir}\`), or serve another directory`,
      );
    }
    writeFileSync(this.lockFile, `${process.pid}\n`);
    return () => {
      // What `delete --force` held ends with this serve; the directory stays only for a -d serve's log.
      this.releaseAll();
      rmSync(this.lockFile, { force: true });
      closeSync(fd);
      try {
        rmdirSync(this.path);
      } catch {
        /* the log of serve -d */
      }
    };
  }

  /** The pid the serve of DIR wrote, if any serve holds the lock (else undefined). */
  servingPid(): number | undefined {
    if (!existsSync(this.lockFile)) return undefined;
    const fd = takeFileLock(this.lockFile, 1);
    if (fd !== undefined) {
      // Nobody holds it: the file of a killed serve.
      rmSync(this.lockFile, { force: true });
      closeSync(fd);
      return undefined;
    }
    try {
      const pid = Number(readFileSync(this.lockFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined; // released meanwhile
    }
  }

  /** Pod name → the hash `delete --force` deleted it at. */
  held(): Map<string, string> {
    const out = new Map<string, string>();
    let names: string[] = [];
    try {
      names = readdirSync(join(this.path, 'held'));
    } catch {
      return out;
    }
    for (const n of names) {
      try {
        out.set(n, readFileSync(join(this.path, 'held', n), 'utf8').trim());
      } catch {
        /* released meanwhile */
      }
    }
    return out;
  }

  /** `podbox delete --force`: the pod is not made again while its file keeps `hash`. */
  hold(name: string, hash: string): void {
    mkdirSync(join(this.path, 'held'), { recursive: true, mode: 0o700 });
    writeAtomic(join(this.path, 'held', name), `${hash}\n`);
  }

  release(name: string): void {
    rmSync(join(this.path, 'held', name), { force: true });
  }

  /** A serve that starts makes every pod of its files again: what an earlier one was told is forgotten. */
  releaseAll(): void {
    rmSync(join(this.path, 'held'), { recursive: true, force: true });
  }
}
