/**
 * Stand-in for the registries configuration module (its owner writes the real one): where to
 * contact a registry. Here: the registry itself, insecure for localhost and 127.0.0.0/8 (as Docker
 * treats them), with `insecure`, or when PODBOX_INSECURE_REGISTRIES names it.
 */
export interface RegistryEndpoint {
  /** host[:port] to contact */
  host: string;
  /** plain http allowed */
  insecure: boolean;
  mirror: boolean;
}

export function endpointsFor(registry: string, opts: { insecure?: boolean } = {}): RegistryEndpoint[] {
  const hostname = registry.replace(/:\d+$/, '');
  const listed = (process.env.PODBOX_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(registry);
  const local = hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  return [{ host, insecure: !!opts.insecure || listed || local, mirror: false }];
}
