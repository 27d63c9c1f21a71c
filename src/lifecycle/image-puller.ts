import { ImageStore, type StoredImage } from '../image/store.js';
import { statusImageID } from '../image/resolve.js';
import { pullImage, type PullProgress } from '../image/pull.js';
import { parseReference } from '../image/reference.js';
import type { DockerConfigJson } from '../registry/credentials.js';
import { PodboxError } from '../errors.js';
import type { ImageLookup, LocalImage } from './image-pulls.js';

/**
 * The pulls of one pod, performed for its machine (pod-machine.ts asks with a `pull` action; the
 * decisions are image-pulls.ts'): each runs beside the pod's loop, so a slow registry holds no
 * pod (the kubelet's parallel image puller, pkg/kubelet/images/puller.go), one pull per image at
 * a time, each abortable (the pod deleted meanwhile: nothing of the pull is kept by the store).
 *
 *   machine ── pull IMAGE ──▶ ImagePuller ── pullImage(IMAGE, {signal, pullSecrets}) ──▶ registry
 *   machine ◀─ pullDone / pullFailed ──┘  └── progress ──▶ the foreground run that follows the pod
 */
export interface PullerOptions {
  /** credentials of the pod's imagePullSecrets */
  pullSecrets: DockerConfigJson[];
  /** registries the pod's command allowed plain HTTP for (PODBOX_INSECURE_REGISTRIES, comma-separated hosts) */
  insecureRegistries?: string;
  progress: (image: string, p: PullProgress) => void;
  done: (image: string, local: LocalImage, pullMs: number, size: number) => void;
  failed: (image: string, message: string) => void;
}

/** Progress of a layer is passed on at most this often: a foreground run redraws, it needs no more. */
const PROGRESS_INTERVAL_MS = 100;

export class ImagePuller {
  private readonly inFlight = new Map<string, AbortController>();

  constructor(private readonly o: PullerOptions) {}

  pull(image: string): void {
    if (this.inFlight.has(image)) return;
    const abort = new AbortController();
    this.inFlight.set(image, abort);
    const started = Date.now();
    const lastSent = new Map<string, number>();
    const onProgress = (p: PullProgress) => {
      if (p.kind === 'layer') {
        const now = Date.now();
        if (now - (lastSent.get(p.digest) ?? 0) < PROGRESS_INTERVAL_MS && p.done < p.total) return;
        lastSent.set(p.digest, now);
      }
      this.o.progress(image, p);
    };
    void pullImage(image, {
      pullSecrets: this.o.pullSecrets,
      insecure: insecureFor(image, this.o.insecureRegistries),
      signal: abort.signal,
      onProgress,
    }).then(
      (r) => {
        if (!this.settle(image, abort)) return;
        this.o.done(image, localImage(r.image, image), Date.now() - started, r.bytes);
      },
      (e: unknown) => {
        if (!this.settle(image, abort)) return;
        this.o.failed(image, e instanceof PodboxError ? e.message : (e as Error).message);
      },
    );
  }

  /** The pod is going away: every pull stops, and its result is not reported. */
  abortAll(): void {
    for (const a of this.inFlight.values()) a.abort();
    this.inFlight.clear();
  }

  private settle(image: string, abort: AbortController): boolean {
    if (this.inFlight.get(image) !== abort) return false;
    this.inFlight.delete(image);
    return !abort.signal.aborted;
  }
}

/** The local store, for the machine (image-pulls.ts ImageLookup); a reference it cannot read is absent. */
export function storeLookup(store = ImageStore.open()): ImageLookup {
  return (ref) => {
    try {
      const img = store.resolve(ref);
      return img ? localImage(img, ref) : undefined;
    } catch {
      return undefined;
    }
  };
}

function localImage(img: StoredImage, ref: string): LocalImage {
  return { id: img.id, imageID: statusImageID(img, ref) };
}

/** Whether `image`'s registry is one of `registries` (PODBOX_INSECURE_REGISTRIES). */
export function insecureFor(image: string, registries: string | undefined): boolean | undefined {
  if (!registries) return undefined;
  try {
    const domain = parseReference(image).domain;
    return registries.split(/[\s,]+/).includes(domain) || undefined;
  } catch {
    return undefined;
  }
}
