import { PodDir, supervisorAlive, type PodRecord, type PodState } from '../store/pods.js';
import { removeTrees } from '../sandbox/userns.js';

/**
 * What the commands other than `run` know of a pod: its record, its last state, and whether its
 * supervisor still lives. A pod whose supervisor died (SIGKILL, a crash, a reboot) is found here:
 * its processes died with it (pause has PR_SET_PDEATHSIG), so only files can be left.
 */
export interface PodView {
  dir: PodDir;
  record: PodRecord;
  state?: PodState;
  alive: boolean;
}

export function view(dir: PodDir): PodView {
  const record = dir.record();
  return { dir, record, state: dir.state(), alive: supervisorAlive(record) };
}

/** A pod whose supervisor is gone without finishing: it is lost. */
export function isLost(v: PodView): boolean {
  return !v.alive && !v.state?.runtime.finished;
}

/**
 * Cleans the pods of foreground runs whose supervisor was killed before it could clean up
 * (they were to be removed anyway). Every command that lists pods calls this first.
 */
export async function collectGarbage(): Promise<void> {
  for (const d of PodDir.list()) {
    let v: PodView;
    try { v = view(d); } catch { continue; }
    if (!v.alive && v.record.removeWhenDone) await removeTrees([d.path]).catch(() => {});
  }
}
