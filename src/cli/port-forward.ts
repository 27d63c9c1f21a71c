import type { Command } from 'commander';
import { PodDir, isAlive } from '../pod/dir.js';
import { view, statusOf } from '../pod/view.js';
import { PortForwarder, parseAddresses, parsePorts } from '../sandbox/port-forward.js';
import { PodboxError } from '../errors.js';
import { errorText } from '../probe/text.js';

/**
 * `podbox port-forward POD [LOCAL:]REMOTE... [--address ADDR,...]`, as `kubectl port-forward`
 * (k8s.io/kubectl/pkg/cmd/portforward/portforward.go): runs until interrupted (exit 0 on SIGINT,
 * 143 on SIGTERM, which kubectl does not catch) or until the pod ends ("lost connection to pod", 1).
 */
export function registerPortForward(program: Command): void {
  program
    .command('port-forward')
    .description("forward local ports to ports on a pod's localhost (as kubectl port-forward)")
    .argument('<pod>', 'the pod (NAME or pod/NAME)')
    .argument('<ports...>', '[LOCAL:]REMOTE: LOCAL left out is REMOTE; :REMOTE picks a random local port')
    .option(
      '--address <addresses>',
      'addresses to listen on, comma-separated: localhost (127.0.0.1 and ::1) or IP addresses',
      'localhost',
    )
    .action(async (podArg: string, portArgs: string[], o: { address: string }) => {
      const name = podName(podArg);
      const v = view(PodDir.open(name));
      const pod = v.record.pod;
      const phase = statusOf(v).phase;
      const pause = v.state?.runtime.pause;
      if (!v.alive || phase !== 'Running' || !pause) {
        throw new PodboxError(
          'PodNotRunning',
          `unable to forward port because pod "${name}" is not running. Current status=${phase}`,
          `see \`podbox describe ${name}\``,
        );
      }
      let ports;
      let addresses;
      try {
        ports = parsePorts(portArgs, pod);
        addresses = parseAddresses(o.address.split(','));
      } catch (e) {
        throw new PodboxError('InvalidArgument', errorText(e), 'see `podbox port-forward --help`');
      }
      // Signals are caught before the first "Forwarding from" line: a caller may act on it at once.
      let ticker: NodeJS.Timeout | undefined;
      let lost: () => void = () => {};
      const ended = new Promise<'SIGINT' | 'SIGTERM' | 'pod'>((resolve) => {
        lost = () => resolve('pod');
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
        // The pod's end (its pause gone) closes its network namespace, as kubectl sees its stream
        // connection close. Polled: a timer, unlike a pidfd watch, can be stopped when we are done.
        ticker = setInterval(() => isAlive(pause) || resolve('pod'), 200);
      });
      const forwarder = new PortForwarder(
        { name, uid: pod.metadata.uid ?? '', pausePid: pause.pid },
        { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), lost },
      );
      try {
        await forwarder.listen(ports, addresses);
      } catch (e) {
        clearInterval(ticker);
        throw new PodboxError(
          'ListenFailed',
          errorText(e),
          'free the port, or choose another local port (LOCAL:REMOTE, or :REMOTE for a random one)',
        );
      }
      const end = await ended;
      clearInterval(ticker);
      forwarder.close();
      if (end === 'pod') {
        throw new PodboxError('LostConnection', `lost connection to pod "${name}"`, `see \`podbox get ${name}\``);
      }
      process.exitCode = end === 'SIGINT' ? 0 : 143;
    });
}

/** NAME, or TYPE/NAME with TYPE a pod (kubectl's pod, pods or po). */
function podName(arg: string): string {
  const m = /^([^/]+)\/(.+)$/.exec(arg);
  if (!m) return arg;
  if (['pod', 'pods', 'po'].includes(m[1]!.toLowerCase())) return m[2]!;
  throw new PodboxError('InvalidArgument', `cannot forward to "${arg}": podbox runs pods only`, 'give POD or pod/POD');
}
