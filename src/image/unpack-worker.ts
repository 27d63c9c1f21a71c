import { readFileSync } from 'node:fs';
import { runUnpackJob, encodeError, type UnpackJob } from './unpack.js';

/**
 * Entry point of the unpack worker: `node dist/unpack-worker.mjs` (its own bundle, scripts/bundle.mjs)
 * with one JSON UnpackJob on stdin, run by the store as root of a user namespace with the pod id
 * mapping. Results go to the job's result file; a failure is one marked line on stderr (the store
 * turns it back into the PodboxError it was) and exit status 1.
 */
async function main(): Promise<void> {
  let job: UnpackJob;
  try {
    job = JSON.parse(readFileSync(0, 'utf8')) as UnpackJob;
  } catch (e) {
    process.stderr.write(`${encodeError(new Error(`unpack worker: bad job on stdin: ${(e as Error).message}`))}\n`);
    process.exit(1);
  }
  try {
    await runUnpackJob(job);
  } catch (e) {
    if (process.env.PODBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.stderr.write(`${encodeError(e)}\n`);
    process.exit(1);
  }
}

await main();
