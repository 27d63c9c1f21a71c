import type { Container, Pod } from './types.js';

/** Every container of the pod, init containers (and sidecars) first, in spec order. */
export function allContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** The container named `name` (init or app); the caller knows it exists. */
export function containerNamed(pod: Pod, name: string): Container {
  return allContainers(pod).find((c) => c.name === name)!;
}
