import { chosenContainer } from '../api/containers.js';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import { Runc, containerId } from '../container/runc.js';
import { waitForExit } from '../sandbox/sandbox.js';
import { view } from '../pod/view.js';
import { PodboxError } from '../errors.js';
import { devNullFd } from '../host/pipes.js';

/** `podbox exec POD [-c NAME] [-i] [-t] -- CMD [ARG...]`: runs CMD in the container; exits with its status. */
export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a command in a running container')
    .argument('<pod>')
    .argument('<command...>')
    .option('-c, --container <name>', 'the container (may be left out when the pod has one)')
    .option('-i, --stdin', 'pass stdin to the command')
    .option('-t, --tty', 'allocate a terminal')
    .action(async (pod: string, command: string[], o: { container?: string; stdin?: boolean; tty?: boolean }) => {
      const v = view(PodDir.open(pod));
      const name = chosenContainer(v.record.pod, o.container).name;
      const c = v.state?.runtime.containers[name];
      const pausePid = v.state?.runtime.pause?.pid;
      if (!v.alive || !pausePid || c?.pid === undefined) {
        throw new PodboxError(
          'ContainerNotFound',
          `container "${name}" of pod "${pod}" is not running`,
          'see `podbox get ' + pod + '`',
        );
      }
      const runc = new Runc(pausePid, v.dir.file('runc'));
      // Beside runc's own logs: the only place in the pod directory runc may write (sandbox/pod-root.ts).
      const log = `${runc.logFile(`${name}.${c.instance}`)}.exec-${randomBytes(6).toString('hex')}`;
      try {
        const pid = runc.exec(containerId(name, c.instance), command, {
          stdio: [o.stdin ? 0 : devNullFd(), 1, 2],
          tty: o.tty,
          log,
        });
        const { code, signal } = await waitForExit(pid);
        // runc exits 255 when it could not start the command; its reason is in the log.
        const failure = code === 255 ? Runc.loggedError(log) : undefined;
        if (failure) {
          // runc has already said why on stderr (it shares the command's). The exit status follows
          // Docker's convention: 127 for a command not found, 126 for one that cannot run.
          process.exitCode = /not found|no such file/i.test(failure) ? 127 : 126;
        } else {
          process.exitCode = code ?? 128 + (signal ?? 0);
        }
      } finally {
        rmSync(log, { force: true });
      }
    });
}
