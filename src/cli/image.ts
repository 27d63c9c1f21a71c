import type { Command } from 'commander';
import { ImageStore, shortId, type StoredImage } from '../image/store.js';
import { parseReference, repositoryOf, familiarize, normalizeReference } from '../image/reference.js';
import { PodboxError } from '../errors.js';
import { formatTable } from '../kubectl/table.js';
import { imageUsers, imageRemovalRefusal } from '../pod/image-users.js';
import { collectGarbage } from '../pod/view.js';
import { pullImage } from '../image/pull.js';
import { pullReporter } from '../image/pull-progress.js';

/**
 * `podbox image load|import|ls|rm|inspect` (docs/cli.md, "podbox image"). Output follows the
 * tools people know: `Loaded image: NAME` per tag as `docker load` prints it, a `podman images`
 * table, `Untagged:`/`Deleted:` as `docker rmi`.
 */
export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('manage local images');
  const warn = (line: string) => process.stderr.write(`podbox: warning: ${line}\n`);
  registerLoad(image, warn);
  registerImport(image, warn);
  registerPull(image, warn);
  registerList(image);
  registerRemove(image);
  registerPrune(image);
  registerInspect(image);
}

function registerLoad(image: Command, warn: (line: string) => void): void {
  image
    .command('load')
    .description(
      'load a docker-archive (docker/podman save), an OCI archive or an OCI image-layout directory; - reads stdin',
    )
    .argument('<file>', 'the archive, an OCI layout directory, or -')
    .action(async (file: string) => {
      const images = await ImageStore.open().load(file, { warn });
      for (const img of images) {
        if (img.loaded.length === 0) process.stdout.write(`Loaded image ID: ${img.id}\n`);
        for (const n of img.loaded) process.stdout.write(`Loaded image: ${n}\n`);
      }
    });
}

function registerImport(image: Command, warn: (line: string) => void): void {
  image
    .command('import')
    .description(
      'make an image of a root filesystem (a tar, optionally gzipped, or a directory; - reads a tar from stdin)',
    )
    .argument('<rootfs>', 'ROOTFS.tar, DIR or -')
    .argument('<name>', 'NAME[:TAG]')
    .option(
      '-c, --change <instruction>',
      'set CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL or STOPSIGNAL, e.g. \'CMD=["sh"]\' (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (rootfs: string, name: string, opts: { change: string[] }) => {
      const img = await ImageStore.open().import(rootfs, name, opts.change, { warn });
      process.stdout.write(`${img.id}\n`);
    });
}

function registerPull(image: Command, warn: (line: string) => void): void {
  image
    .command('pull')
    .description('pull an image from a registry (Docker Registry v2 / OCI distribution)')
    .argument('<ref>', 'NAME[:TAG][@DIGEST], e.g. busybox, ghcr.io/org/app:1, localhost:5000/x@sha256:…')
    .option('--platform <os/arch[/variant]>', 'the platform to pick from a multi-platform image (default: this host)')
    .option('-q, --quiet', 'print only the image id')
    .option('--insecure', 'allow plain http to this registry (localhost and 127.0.0.0/8 are allowed anyway)')
    .action(async (ref: string, opts: { platform?: string; quiet?: boolean; insecure?: boolean }) => {
      const reporter = opts.quiet ? undefined : await pullReporter(process.stderr, normalizeReference(ref));
      try {
        const { image } = await pullImage(ref, {
          platform: opts.platform,
          insecure: opts.insecure,
          onProgress: reporter?.onProgress,
          warn,
        });
        reporter?.stop();
        if (!opts.quiet) process.stderr.write(`Writing manifest to image destination\n`);
        process.stdout.write(`${image.id}\n`);
      } finally {
        reporter?.stop();
      }
    });
}

function registerPrune(image: Command): void {
  image
    .command('prune')
    .description('remove images without a name that no pod uses, and layers no image needs')
    .action(async () => {
      await collectGarbage();
      const users = imageUsers();
      const r = await ImageStore.open().prune((id) => (users.get(id) ?? []).length > 0);
      for (const id of r.deleted) process.stdout.write(`Deleted: ${id}\n`);
      for (const d of r.layers) process.stdout.write(`Deleted layer: ${d}\n`);
      const freed = r.layerBytes + r.blobBytes;
      if (freed) process.stdout.write(`Total reclaimed space from layers: ${humanSize(freed)}\n`);
    });
}

function registerList(image: Command): void {
  image
    .command('ls')
    .alias('list')
    .description('list local images')
    .option('-o, --output <format>', 'json')
    .action((opts: { output?: string }) => {
      const images = ImageStore.open().list();
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(imagesJson(images), null, 2)}\n`);
      } else if (opts.output === undefined || opts.output === 'table') {
        process.stdout.write(imagesTable(images, Date.now()));
      } else {
        throw new PodboxError(
          'InvalidArgument',
          `unknown output format "${opts.output}"`,
          'use -o json, or leave -o out for a table',
        );
      }
    });
}

function registerRemove(image: Command): void {
  image
    .command('rm')
    .alias('remove')
    .description('remove image names; an image is deleted when no name is left')
    .argument('<ref...>', 'NAME[:TAG], NAME@DIGEST or image id')
    .option(
      '-f, --force',
      'remove an image given by id with all its names, or one a finished pod kept (never one a running pod uses)',
    )
    .action(async (refs: string[], opts: { force?: boolean }) => {
      const store = ImageStore.open();
      // Pods a killed supervisor left behind (never created, or foreground) use no image.
      await collectGarbage();
      for (const ref of refs) {
        // Asked under the store's lock, just before the image goes: the pods as they are then.
        const refuseDelete = (id: string) => imageRemovalRefusal(ref, imageUsers().get(id) ?? [], !!opts.force);
        const r = await store.remove(ref, { force: opts.force, refuseDelete });
        for (const u of r.untagged) process.stdout.write(`Untagged: ${familiarize(u)}\n`);
        if (r.deleted) process.stdout.write(`Deleted: ${r.deleted}\n`);
      }
    });
}

function registerInspect(image: Command): void {
  image
    .command('inspect')
    .description('print an image: id, names, size, rootfs and config')
    .argument('<ref>', 'NAME[:TAG], NAME@DIGEST or image id')
    .action((ref: string) => {
      const img = ImageStore.open().get(ref);
      process.stdout.write(`${JSON.stringify(img, null, 2)}\n`);
    });
}

/** `image ls -o json`: one object per image. */
export function imagesJson(
  images: StoredImage[],
): { id: string; names: string[]; size: number; created: string | null }[] {
  return images.map((i) => ({ id: i.id, names: i.names, size: i.size, created: i.created ?? null }));
}

/** go-units HumanSizeWithPrecision(size, 3), as `podman images` prints SIZE. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes,
    i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))} ${units[i]}`;
}

/** go-units HumanDuration + " ago", as `podman images` prints CREATED. */
export function humanAgo(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second ago';
  if (s === 1) return '1 second ago';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return `${h} hours ago`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days ago`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks ago`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months ago`;
  return `${Math.floor(s / 3600 / 24 / 365)} years ago`;
}

/** The `podman images` table: a row per name, `<none>` for an image without one. */
export function imagesTable(images: StoredImage[], now: number): string {
  const rows: string[][] = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
  for (const img of images) {
    const created =
      img.created && !Number.isNaN(Date.parse(img.created)) ? humanAgo(now - Date.parse(img.created)) : '';
    const size = humanSize(img.size);
    const names = img.names.length ? img.names : img.digests;
    if (names.length === 0) rows.push(['<none>', '<none>', shortId(img.id), created, size]);
    for (const n of names) {
      const r = parseReference(n);
      rows.push([repositoryOf(r), r.tag ?? '<none>', shortId(img.id), created, size]);
    }
  }
  return formatTable(rows);
}
