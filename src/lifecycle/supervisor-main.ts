import { runUserSupervisor } from './user-supervisor.js';
import { PodboxError } from '../errors.js';
import { protectSupervisorFromOom } from '../container/oom-score.js';

/**
 * The entry of the user's supervisor process (`podbox __supervisor`), bundled apart from the CLI
 * (scripts/bundle.mjs): it runs for as long as the user has pods, so it loads only what
 * supervising needs, not the manifest schema, YAML, the argument parser or the table printers.
 */
export async function main(): Promise<number> {
  try {
    protectSupervisorFromOom();
    return await runUserSupervisor();
  } catch (e) {
    process.stderr.write(`podbox: supervisor: ${e instanceof PodboxError ? e.toLine() : (e as Error).stack}\n`);
    return 1;
  }
}
