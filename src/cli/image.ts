import type { Command } from 'commander';

/** `podbox image load|import|ls|rm` — filled in by the image module. */
export function registerImageCommands(program: Command): void {
  program.command('image').description('manage local images');
}
