import type { Container, Pod } from './types.js';
import { PodboxError } from '../errors.js';

/** Every container of the pod, init containers (and sidecars) first, in spec order. */
export function allContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

/** The container named `name` (init or app); the caller knows it exists. */
export function containerNamed(pod: Pod, name: string): Container {
  return allContainers(pod).find((c) => c.name === name)!;
}

/**
 * The container a command means (`logs`, `exec`): the one named with -c, which must exist, or the
 * pod's only app container; else the error kubectl gives ("a container name must be specified for
 * pod NAME, choose one of: [a b] or one of the init containers: [i]").
 */
export function chosenContainer(pod: Pod, requested: string | undefined): Container {
  const name = pod.metadata.name;
  const apps = pod.spec.containers.map((c) => c.name);
  const inits = (pod.spec.initContainers ?? []).map((c) => c.name);
  const choices = `choose one of: [${apps.join(' ')}]${inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`;
  if (requested === undefined) {
    if (apps.length === 1) return pod.spec.containers[0]!;
    throw new PodboxError(
      'InvalidArgument',
      `a container name must be specified for pod ${name}, ${choices}`,
      'add -c NAME',
    );
  }
  const c = allContainers(pod).find((x) => x.name === requested);
  if (!c) throw new PodboxError('ContainerNotFound', `container ${requested} is not valid for pod ${name}`, choices);
  return c;
}
