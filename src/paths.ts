import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { ensurePrivateChain, type ChainDir } from './host/private-dir.js';

/**
 * Where podbox keeps state, as docs/cli.md documents it:
 *  - PODBOX_HOME overrides everything: $PODBOX_HOME/images, $PODBOX_HOME/volumes and $PODBOX_HOME/pods;
 *  - otherwise images in ${XDG_DATA_HOME:-~/.local/share}/podbox, named volumes (kept across
 *    runs and reboots, as images are) in its volumes/, and pods in ${XDG_RUNTIME_DIR:-/tmp/podbox-$UID}/podbox.
 * Each user's dirs are mode 0700 so two users never see each other's pods or images.
 */
export interface StateDirs {
  images: string;
  pods: string;
  volumes: string;
}

export function stateDirs(env: NodeJS.ProcessEnv = process.env): StateDirs {
  if (env.PODBOX_HOME) {
    return {
      images: join(env.PODBOX_HOME, 'images'),
      pods: join(env.PODBOX_HOME, 'pods'),
      volumes: join(env.PODBOX_HOME, 'volumes'),
    };
  }
  const uid = process.getuid?.() ?? 0;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  const runtime = env.XDG_RUNTIME_DIR || `/tmp/podbox-${uid}`;
  return { images: join(data, 'podbox'), pods: join(runtime, 'podbox'), volumes: join(data, 'podbox', 'volumes') };
}

/**
 * The directories podbox relies on for `which`, outermost first, and the hint for a refusal. Only the
 * ones podbox names itself are `ours`; XDG_RUNTIME_DIR and PODBOX_HOME are the user's (a runtime dir
 * must be the user's alone, mode 0700: XDG Base Directory Specification).
 */
export function stateDirChain(
  which: keyof StateDirs,
  env: NodeJS.ProcessEnv = process.env,
): { chain: ChainDir[]; hint: string } {
  const leaf = stateDirs(env)[which];
  const hint = (vars: string) => `remove it, or set ${vars} to a private directory (yours, mode 0700)`;
  if (env.PODBOX_HOME) {
    return {
      chain: [
        { path: env.PODBOX_HOME, ours: false },
        { path: leaf, ours: true },
      ],
      hint: hint('PODBOX_HOME'),
    };
  }
  if (which === 'images') return { chain: [{ path: leaf, ours: true }], hint: hint('XDG_DATA_HOME or PODBOX_HOME') };
  if (which === 'volumes') {
    const data = stateDirs(env).images;
    return {
      chain: [
        { path: data, ours: true },
        { path: leaf, ours: true },
      ],
      hint: hint('XDG_DATA_HOME or PODBOX_HOME'),
    };
  }
  const runtime = env.XDG_RUNTIME_DIR
    ? { path: env.XDG_RUNTIME_DIR, ours: false }
    : { path: dirname(leaf), ours: true };
  return { chain: [runtime, { path: leaf, ours: true }], hint: hint('XDG_RUNTIME_DIR or PODBOX_HOME') };
}

/** The state directory `which`, created if need be, after checking that it and the chain above it are private. */
export function ensureStateDir(which: keyof StateDirs): string {
  const { chain, hint } = stateDirChain(which);
  return ensurePrivateChain(chain, hint);
}

/** The project root (where package.json, build/ and dist/ live). */
export const projectRoot = new URL('../', import.meta.url).pathname.replace(/\/$/, '').replace(/\/dist$/, '');
