import { goDuration } from '../kubectl/duration.js';
import type { HandlerResult } from './types.js';

/** handlers.go runSleepHandler: waits, unless the container ends first (`signal`). */
export function sleepHook(seconds: number, timeoutMs: number, signal?: AbortSignal): Promise<HandlerResult> {
  const ended = { ok: false, message: 'container terminated before sleep hook finished' };
  if (signal?.aborted) return Promise.resolve(ended);
  return new Promise((resolve) => {
    const cut = timeoutMs < seconds * 1000;
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(
          cut
            ? { ok: false, message: `sleep hook did not finish within ${goDuration(timeoutMs / 1000)}` }
            : { ok: true, message: '' },
        );
      },
      Math.min(seconds * 1000, timeoutMs),
    );
    const onAbort = () => {
      clearTimeout(timer);
      resolve(ended);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
