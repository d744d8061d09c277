/**
 * The loop the worker's background jobs share (day seals, time-zone re-folds,
 * raw-event retention): run at once, then every `intervalMs`, never two runs
 * at a time. A tick or a `kick()` that comes while a run is under way asks for
 * one more run after it; `stop()` cancels that and waits for the run.
 */
export interface Periodic {
  /** Runs now, or right after the run under way. */
  kick(): void;
  stop(): Promise<void>;
}

/** `run` must not reject: it logs its own failures and is tried again at the next tick. */
export function startPeriodic(run: () => Promise<void>, intervalMs: number): Periodic {
  let running: Promise<void> | undefined;
  let again = false;
  const tick = () => {
    if (running) {
      again = true;
      return;
    }
    running = run().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        tick();
      }
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    kick: tick,
    async stop() {
      clearInterval(timer);
      again = false;
      await running;
    },
  };
}
