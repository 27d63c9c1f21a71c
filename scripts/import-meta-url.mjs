// Injected into the CommonJS CLI bundle (scripts/bundle.mjs) for `import.meta.url`, which CommonJS
// lacks: the bundle's own file URL, so paths computed from it (paths.ts projectRoot) hold from dist/.
import { pathToFileURL } from 'node:url';

export const importMetaUrl = pathToFileURL(__filename).href;
