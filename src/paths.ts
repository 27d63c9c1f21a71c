import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { PodboxError } from './errors.js';

/**
 * Where podbox keeps state, as docs/cli.md documents it:
 *  - PODBOX_HOME overrides everything: $PODBOX_HOME/images and $PODBOX_HOME/pods;
 *  - otherwise images in ${XDG_DATA_HOME:-~/.local/share}/podbox and pods in
 *    ${XDG_RUNTIME_DIR:-/tmp/podbox-$UID}/podbox.
 * Each user's dirs are mode 0700 so two users never see each other's pods or images.
 */
export interface StateDirs {
  images: string;
  pods: string;
}

export function stateDirs(env: NodeJS.ProcessEnv = process.env): StateDirs {
  if (env.PODBOX_HOME) {
    return { images: join(env.PODBOX_HOME, 'images'), pods: join(env.PODBOX_HOME, 'pods') };
  }
  const uid = process.getuid?.() ?? 0;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  const runtime = env.XDG_RUNTIME_DIR || `/tmp/podbox-${uid}`;
  return { images: join(data, 'podbox'), pods: join(runtime, 'podbox') };
}

/** Creates `dir` (and parents) and makes the leaf private to this user (0700). */
export function ensurePrivateDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (st.uid !== process.getuid?.()) {
      throw new PodboxError(
        'HostNotReady',
        `state directory ${dir} belongs to uid ${st.uid}, not to you`,
        'set PODBOX_HOME to a directory you own',
      );
    }
    if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  } catch (e) {
    if (e instanceof PodboxError) throw e;
    throw new PodboxError('HostNotReady', `cannot create state directory ${dir}: ${(e as Error).message}`,
      'set PODBOX_HOME to a writable directory');
  }
  return dir;
}

/** The project root (where package.json, build/ and dist/ live). */
export const projectRoot = new URL('../', import.meta.url).pathname.replace(/\/$/, '').replace(/\/dist$/, '');
