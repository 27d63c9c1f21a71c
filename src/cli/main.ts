import { Command, CommanderError } from 'commander';
import { PodboxError } from '../errors.js';
import { registerImageCommands } from './image.js';

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
    .showSuggestionAfterError(true);

  registerImageCommands(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

export const VERSION = '0.1.0';

/** Prints an error as the contract wants it: one line naming the object and what to do. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (usage errors, --help, --version).
    return e.exitCode;
  }
  if (e instanceof PodboxError) {
    process.stderr.write(`podbox: ${e.toLine()}\n`);
    return e.code === 'PodNotFound' || e.code === 'ImageNotFound' ? 1 : 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`podbox: internal error: ${msg.split('\n')[0]} (please report this with the command you ran)\n`);
  if (process.env.PODBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return 1;
}
