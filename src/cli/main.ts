import { Command, CommanderError } from 'commander';
import { PodboxError } from '../errors.js';
import { registerImageCommands } from './image.js';
import { registerRun } from './run.js';
import { registerGet } from './get.js';
import { registerLogs } from './logs.js';
import { registerDelete } from './delete.js';
import { registerInspect } from './inspect.js';
import { registerExec } from './exec.js';
import { registerDoctor } from './doctor.js';
import { registerDescribe } from './describe.js';
import { registerWait } from './wait.js';

export const VERSION = '0.1.0';

/**
 * The podbox command line (../shared/CONTRACT.md). One file per command under cli/; this file
 * only wires them together and turns every failure into one line on stderr.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('podbox')
    .description('Run a Kubernetes v1/Pod manifest on one Linux machine, rootless, with no daemon.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showSuggestionAfterError(true)
    .enablePositionalOptions();

  registerRun(program);
  registerGet(program);
  registerLogs(program);
  registerExec(program);
  registerDelete(program);
  registerDescribe(program);
  registerWait(program);
  registerInspect(program);
  registerImageCommands(program);
  registerDoctor(program);
  for (const c of program.commands) c.exitOverride();

  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

/** Prints an error as the contract wants it: one line naming the object and what to do. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode; // commander printed it (usage, --help, --version)
  if (e instanceof PodboxError) {
    process.stderr.write(`podbox: ${e.toLine()}\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`podbox: internal error: ${msg.split('\n')[0]} (please report it with the command you ran; PODBOX_DEBUG=1 shows more)\n`);
  if (process.env.PODBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return 1;
}
