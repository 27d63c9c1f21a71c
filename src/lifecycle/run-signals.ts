/**
 * SIGINT, SIGTERM and SIGHUP (its terminal closed) of a foreground `podbox run`, caught from before anything of its pod is made
 * until it returns. Without a listener Node leaves a signal its default action, which kills the
 * process at once; a run that is its own supervisor claims its pod's directory and makes its
 * sandbox synchronously (tens of ms: pod/dir.ts create, the id maps), so a Ctrl-C in that time
 * left the directory behind. With a listener the signal waits for the event loop, and the run
 * deletes whatever it made (as kubelet's SyncPod finishes a sandbox it started before it kills it).
 *
 * The first signal decides the exit status (128 + its number: 130 SIGINT, 143 SIGTERM, 129 SIGHUP); a second Ctrl-C
 * asks for a deletion without the grace period.
 */
export class RunSignals {
  /** the status the run exits with, once a signal came */
  exit?: number;
  /** the grace period a deletion is asked with: undefined (the pod's own) or 0 after a second Ctrl-C */
  grace?: number;
  /** what a signal does now; undefined while there is nothing to delete yet (it is only recorded) */
  act?: (grace?: number) => void;
  private interrupts = 0;

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.exit ??= sig === 'SIGINT' ? 130 : sig === 'SIGHUP' ? 129 : 143;
    if (sig === 'SIGINT' && ++this.interrupts > 1) this.grace = 0;
    this.act?.(this.grace);
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('SIGHUP', this.onSignal);
  }

  /**
   * The run ends on its own terms (`--timeout`, `--exit-code-from`): the pod is deleted gracefully
   * as on a first SIGTERM, and the run exits with `exit` (unless a signal came first).
   */
  end(exit: number): void {
    this.exit ??= exit;
    this.act?.(this.grace);
  }

  /** The run is over: signals do their default again. */
  stop(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onSignal);
  }
}
