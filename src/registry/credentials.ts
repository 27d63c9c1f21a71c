import { credentialFiles, readConfigFile, type AuthEntry } from './auth-file.js';
import { helperGet } from './cred-helper.js';
import { keyringLookup, userFileLookup } from './keyring.js';

/**
 * The credentials to try for a registry, in the kubelet's order (kubernetes
 * pkg/credentialprovider/secrets/secrets.go MakeDockerKeyring: the pod's pull secrets first, unioned
 * with the node's keyring after them), where the node's keyring is the user's own files, read as
 * podman reads them (containers/image pkg/docker/config/config.go getCredentialsWithHomeDir):
 *   1. the pod's imagePullSecrets (kubernetes.io/dockerconfigjson or dockercfg), keyring matching;
 *   2. ${XDG_RUNTIME_DIR}/containers/auth.json (or $REGISTRY_AUTH_FILE), where `podbox login` writes;
 *   3. ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json;
 *   4. ~/.docker/config.json (or $DOCKER_CONFIG/config.json).
 * In each file, `credHelpers[registry]` (else `credsStore`) names a helper asked first, as docker's
 * configfile.GetCredentialsStore does; the file's own `auths` entry comes after it. The registry
 * client tries anonymous access after all of these.
 */
export type Credential = { username: string; password: string } | { identityToken: string } | { registryToken: string };

/** The `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret. */
export interface DockerConfigJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

const DOCKER_HUB = 'docker.io';
/** The key and server URL docker uses for Docker Hub (docker/docker registry.IndexServer). */
const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';

/**
 * `registry` is the normalised registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), or
 * `host/repository` so that keys scoped to a path (`quay.io/org`) apply too. `warn` gets one line per
 * skipped source (a helper absent or failing, an undecodable entry), naming it, never a secret.
 * A malformed credential file is an error naming the file.
 */
export function credentialCandidates(
  registry: string,
  pullSecrets: DockerConfigJson[] = [],
  warn: (line: string) => void = (line) => process.stderr.write(`podbox: warning: ${line}\n`),
  env: NodeJS.ProcessEnv = process.env,
): Credential[] {
  const out: Credential[] = [];
  // Step 1: the pod's pull secrets, matched as the kubelet's keyring does.
  const secretEntries = keyringLookup(
    pullSecrets.map((s) => s.auths ?? {}),
    registry,
  );
  for (const e of secretEntries)
    add(
      out,
      entryCredential(e, () => warn(undecodable('an image pull secret', registry))),
    );

  // Steps 2-4: the user's files.
  const host = registry.split('/')[0]!;
  for (const path of credentialFiles(env)) {
    const file = readConfigFile(path);
    if (!file) continue;
    const helper = helperFor(file.credHelpers ?? {}, host) ?? file.credsStore;
    if (helper) {
      const r = helperGet(helper, host === DOCKER_HUB ? DOCKER_HUB_INDEX : host, env);
      if ('failed' in r) warn(`${r.failed}; skipping it for ${host} (named in ${path})`);
      else if (!('none' in r)) add(out, r);
    }
    const found = userFileLookup(file.auths ?? {}, registry);
    if (found)
      add(
        out,
        entryCredential(found.entry, () => warn(undecodable(path, found.key))),
      );
  }
  return out;
}

/** credHelpers is keyed by host; docker keys Docker Hub by its index URL. */
function helperFor(helpers: Record<string, string>, host: string): string | undefined {
  const keys = host === DOCKER_HUB ? [DOCKER_HUB, DOCKER_HUB_INDEX, 'index.docker.io'] : [host];
  for (const k of keys) if (helpers[k]) return helpers[k];
  return undefined;
}

/**
 * One `auths` entry as a credential. An identity or registry token wins (docker's AuthConfig); else
 * `auth` (base64 "user:password") overrides username/password, as the kubelet's
 * DockerConfigEntry.UnmarshalJSON does. An `auth` that does not decode is skipped with a warning.
 */
export function entryCredential(e: AuthEntry, undecodable: () => void): Credential | undefined {
  if (e.identitytoken) return { identityToken: e.identitytoken };
  if (e.registrytoken) return { registryToken: e.registrytoken };
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) {
      undecodable();
      return undefined;
    }
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (e.username || e.password) return { username: e.username ?? '', password: e.password ?? '' };
  return undefined; // an empty entry: docker writes those next to a credsStore
}

function undecodable(where: string, key: string): string {
  return `the "auth" of ${key} in ${where} is not base64("user:password"); skipping it`;
}

/** Adds `c` unless it is absent or already there (two files often hold the same login). */
function add(out: Credential[], c: Credential | undefined): void {
  if (!c) return;
  const same = (a: Credential) => JSON.stringify(a) === JSON.stringify(c);
  if (!out.some(same)) out.push(c);
}
