import { Command, CommanderError } from 'commander';
import { PodboxError } from '../errors.js';
import { Tracer, traceFormat, traceProcess, traceWriter } from '../host/trace.js';

/**
 * Every command, in `podbox --help` order, with the names it answers to. A command's module (and
 * what it imports: the YAML and schema libraries, tar...) is loaded only when that command runs,
 * so a command starts without paying for the others.
 */
type Register = (program: Command) => void;
const COMMANDS: [names: string[], load: () => Promise<Register>][] = [
  [['run'], async () => (await import('./run.js')).registerRun],
  [['get'], async () => (await import('./get.js')).registerGet],
  [['logs'], async () => (await import('./logs.js')).registerLogs],
  [['exec'], async () => (await import('./exec.js')).registerExec],
  [['delete'], async () => (await import('./delete.js')).registerDelete],
  [['describe'], async () => (await import('./describe.js')).registerDescribe],
  [['wait'], async () => (await import('./wait.js')).registerWait],
  [['inspect'], async () => (await import('./inspect.js')).registerInspect],
  [['top'], async () => (await import('./top.js')).registerTop],
  [['enter'], async () => (await import('./enter.js')).registerEnter],
  [['serve'], async () => (await import('./serve.js')).registerServe],
  [['port-forward'], async () => (await import('./port-forward.js')).registerPortForward],
  [['image'], async () => (await import('./image.js')).registerImageCommands],
  [['volume'], async () => (await import('./volume.js')).registerVolumeCommands],
  [['login', 'logout'], async () => (await import('./login.js')).registerLogin],
  [['doctor'], async () => (await import('./doctor.js')).registerDoctor],
  [['__workload'], async () => (await import('./workload-host.js')).registerWorkloadHost],
];

export const VERSION = '0.1.0';

/**
 * The podbox command line (docs/cli.md). One file per command under cli/; this file
 * only wires them together and turns every failure into one line on stderr.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('podbox')
    .description('Run a Kubernetes v1/Pod manifest on one Linux machine, rootless, with no daemon.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: usageError('podbox') })
    .showSuggestionAfterError(true)
    .enablePositionalOptions();
  if (argv.length === 0) {
    // As kubectl and docker: no command prints the help, on stdout, and is no error.
    for (const [, load] of COMMANDS) (await load())(program);
    process.stdout.write(program.helpInformation());
    return 0;
  }

  // The command named on the line, or all of them (for --help, and suggestions for a typo).
  const named = argv.find((a) => !a.startsWith('-'));
  // PODBOX_TRACE: this command's own kernel steps on stderr (`run` passes it on to its pod's supervisor).
  const traceAs = named === 'run' ? undefined : traceFormat(process.env.PODBOX_TRACE);
  if (traceAs) traceProcess(new Tracer(traceWriter(traceAs)));
  const chosen = COMMANDS.filter(([names]) => named !== undefined && names.includes(named));
  for (const [, load] of chosen.length ? chosen : COMMANDS) (await load())(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ outputError: usageError(`podbox ${c.name()}`) });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * A usage error from the argument parser, as one line like every other podbox error:
 * "podbox: unknown command 'gte' (did you mean get?): see `podbox --help`".
 */
function usageError(command: string): (text: string, write: (s: string) => void) => void {
  return (text, write) => {
    const line = text
      .replace(/^error: /, '')
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .join(' ')
      .replace('(Did you', '(did you');
    write(`podbox: ${line}: see \`${command} --help\`\n`);
  };
}

/** Prints an error as the contract wants it: one line naming the object and what to do. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode; // commander printed it (usage, --help, --version)
  if (e instanceof PodboxError) {
    process.stderr.write(`podbox: ${e.toLine()}\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(
    `podbox: internal error: ${msg.split('\n')[0]} (please report it with the command you ran; PODBOX_DEBUG=1 shows more)\n`,
  );
  if (process.env.PODBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return 1;
}
