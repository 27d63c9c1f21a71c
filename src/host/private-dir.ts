import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { PodboxError, errnoOf } from '../errors.js';

/**
 * A directory podbox keeps state in must be the user's alone before podbox writes into it: another
 * local user who owns it, or can write to it, can swap what is inside (bundles, status, logs) under
 * the supervisor. As ssh-agent and tmux check their socket directories (tmux.c expand_paths:
 * "directory has unsafe permissions"), every directory of the chain podbox relies on is checked
 * with lstat, so a symbolic link is refused rather than followed. Directories created inside a
 * checked one are safe: nobody else can rename or replace them.
 */

/** What lstat says about a directory, as far as the check needs it. */
export interface DirFacts {
  symlink: boolean;
  directory: boolean;
  uid: number;
  mode: number;
}

/** Why `f` is no private directory of user `uid`, or undefined when it is one. */
export function privateDirProblem(f: DirFacts, uid: number): string | undefined {
  if (f.symlink) return 'is a symbolic link';
  if (!f.directory) return 'is not a directory';
  if (f.uid !== uid) return `belongs to uid ${f.uid}, not to you (uid ${uid})`;
  if (f.mode & 0o022) return `is writable by others (mode ${(f.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/** One directory of a chain; `ours`: podbox names it, so podbox may make it 0700. */
export interface ChainDir {
  path: string;
  ours: boolean;
}

/**
 * Creates what is missing of `chain` (outermost first; only the first with its parents) and checks
 * each with lstat; a directory podbox names is made 0700. Returns the last. `hint` says how to get a
 * private directory instead, e.g. "remove it or set XDG_RUNTIME_DIR or PODBOX_HOME to a private directory".
 */
export function ensurePrivateChain(chain: ChainDir[], hint: string): string {
  const uid = process.getuid?.() ?? 0;
  for (const [i, d] of chain.entries()) {
    try {
      mkdirSync(d.path, { mode: 0o700, recursive: i === 0 });
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') {
        const why = (e as Error).message.replace(/^[A-Z]+: /, '');
        throw new PodboxError('HostNotReady', `cannot create state directory ${d.path}: ${why}`, hint);
      }
    }
    const st = lstatSync(d.path);
    const facts = { symlink: st.isSymbolicLink(), directory: st.isDirectory(), uid: st.uid, mode: st.mode };
    const problem = privateDirProblem(facts, uid);
    if (problem) throw new PodboxError('HostNotReady', `state directory ${d.path} ${problem}`, hint);
    if (d.ours && (st.mode & 0o077) !== 0) chmodSync(d.path, 0o700);
  }
  return chain[chain.length - 1]!.path;
}
