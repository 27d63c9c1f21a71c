import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { PodDir, supervisorAlive, DELETE_REQUEST_FILE } from '../store/pods.js';
import { removeTrees } from '../sandbox/userns.js';
import { parseManifest } from '../spec/manifest.js';
import { readManifestFile } from '../spec/manifest-file.js';
import { pollUntil } from '../poll.js';
import { view, collectGarbage } from './pod-ref.js';
import { PodboxError, isPodboxError } from '../errors.js';

/**
 * `podbox delete POD... [--grace-period N] [--now]` and `podbox delete -f FILE`: graceful
 * deletion (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
 * The pod's supervisor stops its containers (SIGTERM, the grace period, SIGKILL) and tears the
 * sandbox down; this command waits until everything is gone, then removes the pod's files.
 */
export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete pods gracefully and wait until they are gone')
    .argument('[pods...]')
    .option('-f, --filename <file>', 'delete the pod a manifest defines')
    .option('--grace-period <seconds>', 'seconds to wait after SIGTERM before SIGKILL (default: the pod\'s terminationGracePeriodSeconds)')
    .option('--now', 'signal immediate shutdown (same as --grace-period=1)')
    .action(async (pods: string[], o: { filename?: string; gracePeriod?: string; now?: boolean }) => {
      const names = [...pods];
      if (o.filename) names.push(parseManifest(readManifestFile(o.filename), o.filename).pod.metadata.name);
      if (names.length === 0) throw new PodboxError('InvalidArgument', 'no pod named', 'give one or more pod names, or -f FILE');
      let grace: number | undefined;
      if (o.gracePeriod !== undefined) {
        grace = Number(o.gracePeriod);
        if (!Number.isInteger(grace) || grace < 0) throw new PodboxError('InvalidArgument', `--grace-period ${o.gracePeriod} is not a whole number of seconds`, 'give e.g. --grace-period 5');
      }
      // kubectl: --now is --grace-period=1
      if (o.now) grace = 1;
      await collectGarbage();
      let failed = false;
      for (const name of names) {
        try {
          await deletePod(name, { gracePeriod: grace });
          process.stdout.write(`pod "${name}" deleted\n`);
        } catch (e) {
          if (!isPodboxError(e) || names.length === 1) throw e;
          process.stderr.write(`podbox: ${e.toLine()}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

export async function deletePod(name: string, o: { gracePeriod?: number; missingOk?: boolean } = {}): Promise<boolean> {
  let dir: PodDir;
  try {
    dir = PodDir.open(name);
  } catch (e) {
    if (o.missingOk && isPodboxError(e) && e.code === 'PodNotFound') return false;
    throw e;
  }
  const v = view(dir);
  if (v.alive) {
    writeFileSync(dir.file(DELETE_REQUEST_FILE), JSON.stringify({ gracePeriodSeconds: o.gracePeriod }));
    const pid = v.record.supervisor.pid;
    try { process.kill(pid, 'SIGTERM'); } catch { /* it just finished */ }
    const grace = o.gracePeriod ?? v.record.pod.spec.terminationGracePeriodSeconds;
    // The grace period, the kubelet's 2 s preStop extension, and time to tear down.
    const gone = await pollUntil(() => !supervisorAlive(v.record), (grace + 15) * 1000);
    if (!gone) {
      // Its pause process dies with it, and the kernel kills the rest of the pod.
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await pollUntil(() => !supervisorAlive(v.record), 5000);
    }
  }
  await removeTrees([dir.path]);
  return true;
}

