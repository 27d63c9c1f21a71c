import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Stand-in for the credentials module (its owner writes the real one): the credentials to try for
 * a registry, in order. Here: the pull secrets given with a pod, then podman's auth file
 * (REGISTRY_AUTH_FILE or ${XDG_RUNTIME_DIR}/containers/auth.json).
 */
export type Credential = { username: string; password: string } | { identityToken: string } | { registryToken: string };

export interface DockerConfigJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

export function credentialCandidates(registry: string, pullSecrets: DockerConfigJson[] = []): Credential[] {
  const out: Credential[] = [];
  const authFile =
    process.env.REGISTRY_AUTH_FILE ??
    (process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : undefined);
  const files: DockerConfigJson[] = [];
  try {
    if (authFile) files.push(JSON.parse(readFileSync(authFile, 'utf8')) as DockerConfigJson);
  } catch {
    /* none */
  }
  for (const s of [...pullSecrets, ...files]) {
    const e = s.auths?.[registry];
    if (!e) continue;
    if (e.identitytoken) out.push({ identityToken: e.identitytoken });
    else if (e.username !== undefined && e.password !== undefined)
      out.push({ username: e.username, password: e.password });
    else if (e.auth) {
      const plain = Buffer.from(e.auth, 'base64').toString();
      const i = plain.indexOf(':');
      if (i > 0) out.push({ username: plain.slice(0, i), password: plain.slice(i + 1) });
    }
  }
  return out;
}
