import { availableParallelism, totalmem } from 'node:os';
import { statfsSync } from 'node:fs';
import { quantityValue } from './quantity.js';
import type { NodeAllocatable } from './node.js';
import type { Pod } from './types.js';
import { allContainers } from './containers.js';

/**
 * A container's resource as the downward API gives it (resourceFieldRef), the one owner of that
 * value: pkg/api/v1/resource/helpers.go ExtractContainerResourceValue and
 * ExtractResourceValueByContainerNameAndNodeAllocatable.
 *  - a limit left out stands for the node's allocatable (MergeContainerResourceLimits); podbox
 *    reserves nothing, so allocatable is the machine's capacity (cores, memory, the pods'
 *    filesystem);
 *  - a request left out is the limit when one is given (the API server's defaults.go
 *    SetDefaults_ResourceList for requests), else 0;
 *  - the value is divided by `divisor` (default 1) and rounded up: convertResourceCPUToString
 *    works in millicores, convertResourceMemoryToString and ephemeral storage in bytes, each
 *    math.Ceil(value / divisor).
 */

/** The resources a resourceFieldRef may name (validation.go validContainerResourceFieldPathExpressions). */
export const RESOURCE_FIELDS = [
  'limits.cpu',
  'limits.ephemeral-storage',
  'limits.memory',
  'requests.cpu',
  'requests.ephemeral-storage',
  'requests.memory',
] as const;

/** Divisors the API server allows per resource (validContainerResourceDivisorForCPU/Memory/EphemeralStorage). */
export const CPU_DIVISORS = ['1m', '1'];
export const BYTE_DIVISORS = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'];

export function allowedDivisors(resource: string): string[] {
  return resource.endsWith('.cpu') ? CPU_DIVISORS : BYTE_DIVISORS;
}

/** This machine's allocatable resources; `storageDir` is on the filesystem pods are kept on. */
export function nodeAllocatable(storageDir: string): NodeAllocatable {
  let ephemeralStorage = 0;
  try {
    const st = statfsSync(storageDir);
    ephemeralStorage = st.blocks * st.bsize;
  } catch {
    /* unknown: 0 */
  }
  return { cpu: availableParallelism(), memory: totalmem(), ephemeralStorage };
}

/**
 * The text of `resource` of container `containerName` divided by `divisor`, or undefined when the
 * pod has no such container (the kubelet then fails the volume).
 */
export function resourceFieldValue(
  pod: Pod,
  ref: { containerName?: string; resource: string; divisor?: string },
  node: NodeAllocatable,
): string | undefined {
  const c = allContainers(pod).find((x) => x.name === ref.containerName);
  if (!c) return undefined;
  const [kind, name] = ref.resource.split('.', 2) as ['limits' | 'requests', string];
  const given = (k: 'limits' | 'requests') => {
    const q = c.resources?.[k]?.[name!];
    return q === undefined ? undefined : (quantityValue(q) ?? 0);
  };
  const allocatable = name === 'cpu' ? node.cpu : name === 'memory' ? node.memory : node.ephemeralStorage;
  const value = kind === 'limits' ? (given('limits') ?? allocatable) : (given('requests') ?? given('limits') ?? 0);
  const divisor = ref.divisor === undefined ? 1 : (quantityValue(ref.divisor) ?? 1) || 1;
  if (name === 'cpu') {
    // In millicores, as resource.Quantity.MilliValue rounds (up) before the division.
    return String(Math.ceil(Math.ceil(value * 1000) / Math.round(divisor * 1000)));
  }
  return String(Math.ceil(Math.ceil(value) / divisor));
}
