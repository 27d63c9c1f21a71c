import type { Manifest, Secret } from '../api/types.js';
import type { DockerConfigJson } from './credentials.js';

/** The data key each image pull secret type requires (core/v1 types.go DockerConfigJsonKey, DockerConfigKey). */
export const DOCKER_CONFIG_KEYS: Record<string, string> = {
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
  'kubernetes.io/dockercfg': '.dockercfg',
};

/**
 * A pod's imagePullSecrets, as the kubelet gathers them (kubelet_pods.go getPullSecretsForPod,
 * credentialprovider/secrets/secrets.go MakeDockerKeyring): each named Secret of the file that is
 * of type kubernetes.io/dockerconfigjson (`.dockerconfigjson`: `{"auths": {...}}`) or the legacy
 * kubernetes.io/dockercfg (`.dockercfg`: the `auths` map itself); a reference with an empty name is
 * skipped; a Secret of another type adds nothing. A name with no Secret in the file is `missing`:
 * the kubelet records the Warning event FailedToRetrieveImagePullSecret (missingPullSecretsMessage)
 * and pulls anyway.
 */
export interface PullSecrets {
  configs: DockerConfigJson[];
  missing: string[];
}

/** Event reason and message for missing pull secrets (kubelet_pods.go getPullSecretsForPod). */
export const MISSING_PULL_SECRETS_REASON = 'FailedToRetrieveImagePullSecret';
export function missingPullSecretsMessage(missing: string[]): string {
  const names = missing.join(', ');
  return `Unable to retrieve some image pull secrets (${names}); attempting to pull the image may not succeed.`;
}

export function pullSecretsOf(m: Manifest): PullSecrets {
  const configs: DockerConfigJson[] = [];
  const missing: string[] = [];
  for (const ref of m.pod.spec.imagePullSecrets ?? []) {
    if (!ref.name) continue; // kubelet: API validation let empty names through; no warning for them
    const secret = m.secrets.get(ref.name);
    if (!secret) {
      missing.push(ref.name);
      continue;
    }
    const config = dockerConfigOf(secret);
    if (config) configs.push(config);
  }
  return { configs, missing };
}

/**
 * The credentials a Secret holds, or undefined for a Secret of another type. The schema has checked
 * the key is there and holds a JSON object (as the API server does); entries of the wrong shape are
 * dropped here one by one rather than failing every pull of the pod.
 */
export function dockerConfigOf(s: Secret): DockerConfigJson | undefined {
  const key = DOCKER_CONFIG_KEYS[s.type];
  if (key === undefined) return undefined;
  const text = s.stringData?.[key] ?? Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const auths = s.type === 'kubernetes.io/dockercfg' ? v : (v as { auths?: unknown } | null)?.auths;
  return { auths: authEntries(auths) };
}

const FIELDS = ['auth', 'username', 'password', 'identitytoken'] as const;

function authEntries(v: unknown): NonNullable<DockerConfigJson['auths']> {
  const out: NonNullable<DockerConfigJson['auths']> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [key, e] of Object.entries(v as Record<string, unknown>)) {
    if (typeof e !== 'object' || e === null) continue;
    const entry: Record<string, string> = {};
    for (const f of FIELDS) {
      const x = (e as Record<string, unknown>)[f];
      if (typeof x === 'string') entry[f] = x;
    }
    out[key] = entry;
  }
  return out;
}
