import type { Command } from 'commander';
import { readFileSync, openSync, closeSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseManifest } from '../spec/manifest.js';
import type { Manifest } from '../spec/types.js';
import { PodDir, processStartTime, type PodRecord } from '../store/pods.js';
import { supervise } from '../lifecycle/supervisor.js';
import { resolveImages, imagesById } from './images.js';
import { collectGarbage } from './pod-ref.js';
import { deletePod } from './delete.js';
import { PodboxError } from '../errors.js';
import type { LogStream } from '../logs/cri-log.js';
import { containerLogPolicy } from '../logs/log-file.js';
import { removeTrees } from '../sandbox/userns.js';

/**
 * `podbox run FILE [-d] [--keep] [--replace]` (../shared/CONTRACT.md, Pods).
 * The foreground run is the pod's supervisor; -d starts the supervisor in the background
 * (`podbox __supervise NAME`, in its own session) and returns once the pod is created.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a v1/Pod manifest (YAML or JSON; - reads stdin)')
    .argument('<file>', 'the manifest')
    .option('-d, --detach', 'return once the pod is created; it is kept until `podbox delete`')
    .option('--keep', 'keep a finished foreground pod, with its status and logs, until `podbox delete`')
    .option('--replace', 'delete a pod of the same name first')
    .action(async (file: string, opts: { detach?: boolean; keep?: boolean; replace?: boolean }) => {
      process.exitCode = await run(file, opts);
    });

  program
    .command('__supervise', { hidden: true })
    .argument('<name>')
    .action(async (name: string) => {
      process.exitCode = await superviseDetached(name);
    });
}

function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new PodboxError('InvalidArgument', `cannot read ${file}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`, 'give the path of a Pod manifest, or - for stdin');
  }
}

async function run(file: string, opts: { detach?: boolean; keep?: boolean; replace?: boolean }): Promise<number> {
  const manifest = parseManifest(readInput(file), file);
  const name = manifest.pod.metadata.name;
  const images = resolveImages(manifest);
  // A bad PODBOX_CONTAINER_LOG_MAX_* is refused now, not at each container start.
  containerLogPolicy();
  await collectGarbage();
  if (opts.replace) await deletePod(name, { missingOk: true });

  const dir = PodDir.create(name);
  const record: PodRecord = {
    pod: manifest.pod,
    original: manifest.original,
    createdAt: new Date().toISOString(),
    supervisor: { pid: process.pid, startTime: processStartTime(process.pid)! },
    removeWhenDone: !opts.detach && !opts.keep,
    configMaps: [...manifest.configMaps.values()],
    secrets: [...manifest.secrets.values()],
    images: Object.fromEntries([...images].map(([c, img]) => [c, img.id])),
  };
  try {
    dir.writeRecord(record);
  } catch (e) {
    dir.removeOwnFiles();
    throw e;
  }
  if (opts.detach) return startDetached(dir);
  return supervise({ manifest, dir, images, removeWhenDone: record.removeWhenDone, echo: echoer(manifest) });
}

/** Prints container output as `name | line`, coloured by container on a terminal. */
function echoer(m: Manifest): (container: string, stream: LogStream, text: string) => void {
  const names = [...(m.pod.spec.initContainers ?? []), ...m.pod.spec.containers].map((c) => c.name);
  const colours = [36, 33, 32, 35, 34, 31];
  return (container, stream, text) => {
    const out = stream === 'stdout' ? process.stdout : process.stderr;
    const tty = out.isTTY && !process.env.NO_COLOR;
    const prefix = tty ? `\x1b[${colours[names.indexOf(container) % colours.length]}m${container} |\x1b[0m` : `${container} |`;
    out.write(`${prefix} ${text}\n`);
  };
}

const cliPath = fileURLToPath(new URL('../../bin/podbox', import.meta.url));

/** Starts the supervisor in the background and waits for its word that the pod is created. */
async function startDetached(dir: PodDir): Promise<number> {
  const log = openSync(dir.file('supervisor.log'), 'a', 0o600);
  const child = spawn(process.execPath, [cliPath, '__supervise', dir.name], {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
    env: process.env,
  });
  closeSync(log);
  const word = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (text += d));
    pipe.on('end', () => resolve(text));
    child.on('exit', (code) => resolve(text || `error: the supervisor exited with code ${code}; see ${dir.file('supervisor.log')}`));
  });
  child.unref();
  (child.stdio[3] as unknown as { destroy(): void }).destroy();
  if (word.startsWith('ok')) {
    process.stdout.write(`${dir.name}\n`);
    return 0;
  }
  process.stderr.write(`podbox: ${word.replace(/^error: /, '').trim()}\n`);
  return 1;
}

async function superviseDetached(name: string): Promise<number> {
  const dir = PodDir.open(name);
  const record = dir.record();
  record.supervisor = { pid: process.pid, startTime: processStartTime(process.pid)! };
  dir.writeRecord(record);
  let told = false;
  const tell = (text: string) => {
    if (told) return;
    told = true;
    try {
      writeSync(3, text); // fd 3 is the pipe to `podbox run -d`, waiting for this word
      closeSync(3);
    } catch { /* the parent is gone */ }
  };
  try {
    const manifest: Manifest = {
      pod: record.pod,
      original: record.original,
      configMaps: new Map(record.configMaps.map((c) => [c.metadata.name, c])),
      secrets: new Map(record.secrets.map((s) => [s.metadata.name, s])),
    };
    const images = imagesById(record.images);
    return await supervise({
      manifest, dir, images, removeWhenDone: false,
      onCreated: (e) => tell(e ? `error: ${e.toLine()}\n` : 'ok\n'),
    });
  } catch (e) {
    tell(`error: ${e instanceof PodboxError ? e.toLine() : (e as Error).message}\n`);
    await removeTrees([dir.path]).catch(() => {});
    throw e;
  }
}
