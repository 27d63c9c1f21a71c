import type { Command } from 'commander';
import { PodboxError } from '../errors.js';
import { formatTable } from '../kubectl/table.js';
import { collectGarbage } from '../pod/view.js';
import type { PodUser } from '../pod/dir.js';
import { humanSize } from './image.js';
import {
  getVolume,
  listVolumes,
  removeVolume,
  volumeDataPath,
  volumeSize,
  volumeUsers,
  volumeNotFound,
  type NamedVolume,
} from '../volume/named-volumes.js';

/**
 * `podbox volume ls|inspect|rm|prune` (docs/cli.md, "podbox volume"): the named volumes that
 * persistentVolumeClaim volumes use (volume/claim.ts), as `podman volume` manages its own.
 */
export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('manage named volumes (what persistentVolumeClaims use)');
  volume
    .command('ls')
    .alias('list')
    .description('list named volumes, their size and the pods that use them')
    .option('-o, --output <format>', 'json')
    .action(async (opts: { output?: string }) => {
      await collectGarbage();
      const users = volumeUsers();
      const views = listVolumes().map((v) => volumeView(v, users.get(v.name) ?? []));
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      else if (opts.output === undefined || opts.output === 'table') process.stdout.write(volumesTable(views));
      else
        throw new PodboxError(
          'InvalidArgument',
          `unknown output format "${opts.output}"`,
          'use -o json, or leave -o out for a table',
        );
    });
  volume
    .command('inspect')
    .description('print a named volume as JSON')
    .argument('<name>', 'the volume (a claimName)')
    .action(async (name: string) => {
      const v = getVolume(name);
      if (!v) throw volumeNotFound(name);
      await collectGarbage();
      process.stdout.write(`${JSON.stringify(volumeView(v, volumeUsers().get(name) ?? []), null, 2)}\n`);
    });
  volume
    .command('rm')
    .alias('remove')
    .description('remove named volumes and their data; refused while a pod uses one')
    .argument('<name...>', 'the volumes')
    .option('-f, --force', 'remove a volume a finished pod kept (never one a running pod uses)')
    .action(async (names: string[], opts: { force?: boolean }) => {
      // Pods a killed supervisor left behind (never created, or foreground) use no volume.
      await collectGarbage();
      for (const name of names) {
        await removeVolume(name, volumeUsers().get(name) ?? [], !!opts.force);
        process.stdout.write(`${name}\n`);
      }
    });
  volume
    .command('prune')
    .description('remove every named volume no pod uses, with its data')
    .action(async () => {
      await collectGarbage();
      const users = volumeUsers();
      for (const v of listVolumes()) {
        if ((users.get(v.name) ?? []).length > 0) continue;
        await removeVolume(v.name, [], false);
        process.stdout.write(`${v.name}\n`);
      }
    });
}

/** What `volume ls -o json` and `volume inspect` print for one volume. */
interface VolumeView {
  name: string;
  mountpoint: string;
  createdAt: string;
  origin: NamedVolume['origin'];
  labels: Record<string, string>;
  accessModes: string[];
  /** the claim's storage request; a directory has no size limit, so it is never enforced */
  storage: { requested: string | null; enforced: false };
  size: number;
  pods: PodUser[];
}

function volumeView(v: NamedVolume, pods: PodUser[]): VolumeView {
  return {
    name: v.name,
    mountpoint: volumeDataPath(v.name),
    createdAt: v.createdAt,
    origin: v.origin,
    labels: v.labels ?? {},
    accessModes: v.accessModes ?? [],
    storage: { requested: v.storage ?? null, enforced: false },
    size: volumeSize(v.name),
    pods,
  };
}

function volumesTable(views: VolumeView[]): string {
  const rows = [['NAME', 'SIZE', 'REQUESTED', 'PODS']];
  for (const v of views) {
    rows.push([
      v.name,
      humanSize(v.size),
      v.storage.requested ? `${v.storage.requested} (not enforced)` : '<none>',
      v.pods.length ? v.pods.map((p) => p.pod).join(',') : '<none>',
    ]);
  }
  return formatTable(rows);
}
