#!/usr/bin/env node
// `npm run build` (and prepare, test): bundles the TypeScript sources with esbuild into the two
// files podbox runs; tsc only type-checks (tsconfig.json has noEmit).
//   dist/podbox.cjs         the CLI (src/cli/main.ts), run by bin/podbox through V8's code cache
//   dist/supervisor.cjs     the user's supervisor (src/lifecycle/supervisor-main.ts, `podbox __supervisor`),
//                           run the same way: apart, so the long-lived process holds only what it needs
//   dist/unpack-worker.mjs  the image unpack worker (src/image/unpack-worker.ts), a process of its
//                           own that image/store.ts starts by path inside a user namespace
// A new program that podbox starts by file path needs an entry here.
//
// The CLI is CommonJS because bin/podbox compiles it as a classic script (vm.Script), the only
// kind Node 20 can give a code cache to without flags; the worker keeps ESM for its top-level
// await. Everything is bundled except Node's own modules and the native addon, which
// sandbox/native.ts loads at run time from build/Release by an absolute path.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  absWorkingDir: root,
  logLevel: 'warning',
  legalComments: 'none',
};

/**
 * Writes the CLI bundle with its first line naming a hash of the rest: bin/podbox keys its code
 * cache by it without hashing a megabyte at every start (V8 itself checks only the source length).
 */
async function buildCli(entry, name, without = []) {
  const out = await build({
    ...common,
    entryPoints: [entry],
    outfile: `dist/${name}`,
    write: false,
    metafile: true,
    format: 'cjs',
    // CommonJS has no import.meta: paths.ts and native.ts get the bundle's own file URL instead,
    // so the project root is found from dist/ as it is from src/.
    // import() of Node's own modules becomes require(): a script compiled from V8's code cache
    // loses its dynamic import callback in Node 20 ("A dynamic import callback was not specified").
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: ['scripts/import-meta-url.mjs'],
  });
  // The supervisor stays lean (its memory is paid by every user with a pod running): a module that
  // drags the manifest schema or the CLI's parsers into it fails the build, naming the chain's end.
  for (const input of Object.keys(out.metafile.inputs)) {
    const pkg = without.find((p) => input.includes(`node_modules/${p}/`));
    if (pkg) throw new Error(`${name} must not contain ${pkg} (${input}): import it from the CLI side only`);
  }
  const code = out.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex');
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', name), Buffer.concat([Buffer.from(`// podbox-bundle ${hash}\n`), code]));
}

await Promise.all([
  buildCli('src/cli/main.ts', 'podbox.cjs'),
  buildCli('src/lifecycle/supervisor-main.ts', 'supervisor.cjs', ['zod', 'yaml', 'commander']),
  build({
    ...common,
    entryPoints: ['src/image/unpack-worker.ts'],
    outfile: 'dist/unpack-worker.mjs',
    format: 'esm',
    // Bundled CommonJS (tar's dependencies) may call require(): give it one.
    banner: {
      js: 'import { createRequire as __podbox_cr } from "node:module"; const require = __podbox_cr(import.meta.url);',
    },
  }),
]);
