import type { Command } from 'commander';
import { chosenContainer } from '../api/containers.js';
import { PodDir } from '../pod/dir.js';
import { view } from '../pod/view.js';
import { enterNamespaces, runEntered } from '../sandbox/enter.js';
import { PodboxError } from '../errors.js';

/**
 * `podbox enter POD [-c NAME] [--ns net,ipc,uts,pid,mnt,user] -- CMD [ARG...]`: runs a host program
 * (ip, ss, ps, lsns, ipcs) in the namespaces of the pod's pause process, or of container NAME;
 * exits with its status (sandbox/enter.ts).
 */
export function registerEnter(program: Command): void {
  program
    .command('enter')
    .description("run a host program in a pod's (or a container's) namespaces, as nsenter does")
    .argument('<pod>')
    .argument('<command...>')
    .option('-c, --container <name>', "the container whose namespaces to enter (default: the pod's, pause's)")
    .option('--ns <list>', 'the namespaces to enter, of user,net,ipc,uts,pid,mnt (default: all but mnt)')
    .action(async (pod: string, command: string[], o: { container?: string; ns?: string }) => {
      const namespaces = enterNamespaces(o.ns);
      const v = view(PodDir.open(pod));
      const runtime = v.state?.runtime;
      const pausePid = runtime?.pause?.pid;
      if (!v.alive || !pausePid || runtime?.finished) {
        throw new PodboxError('PodNotRunning', `pod "${pod}" is not running`, `see \`podbox get ${pod}\``);
      }
      let target = pausePid;
      let what = `pod "${pod}"`;
      if (o.container !== undefined) {
        const name = chosenContainer(v.record.pod, o.container).name;
        const hostPid = runtime.containers[name]?.hostPid;
        if (hostPid === undefined) {
          throw new PodboxError(
            'ContainerNotFound',
            `container "${name}" of pod "${pod}" is not running`,
            `see \`podbox get ${pod}\`, or leave out -c to enter the pod's namespaces`,
          );
        }
        target = hostPid;
        what = `container "${name}" of pod "${pod}"`;
      }
      process.exitCode = await runEntered(target, namespaces, command, what);
    });
}
