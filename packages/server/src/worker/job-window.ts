/**
 * How many jobs a worker takes from the queue at once. The worker folds the
 * jobs it holds together (`processor.ts`), so the number of jobs it holds
 * bounds the size of a fold: ten jobs of a thousand events fill two folds, but
 * under single-event traffic the API writes jobs of a few events each
 * (`queue/events-queue.ts`), and ten of them make folds of a few dozen events
 * whose fixed cost then caps the worker far below the traffic (measured: 1,600
 * events/s against 2,500 arriving, the backlog and the freshness growing
 * without end). So the window is `WORKER_CONCURRENCY` jobs at least, and grows
 * until the jobs held carry about what the folds in flight can take. It is
 * sized by events, not jobs, so memory stays bounded: a job larger than the
 * running mean shrinks the window at once, smaller ones widen it slowly.
 */
import type { JobWindow } from '../queue/types.js';

/** Jobs held at once, at most, however small they are (each holds a lock in Redis). */
export const MAX_JOBS_IN_WINDOW = 500;
/** Weight of a job no larger than the mean. */
const SMOOTHING = 0.1;

/** `minimum` jobs at least; as many more as carry about `eventsWanted` events (`FOLD_EVENTS_IN_FLIGHT`). */
export function createJobWindow(minimum: number, eventsWanted: number): JobWindow {
  let meanEvents = eventsWanted;
  let size = minimum;
  return {
    get size() {
      return size;
    },
    observe(events: number) {
      const n = Math.max(1, events);
      meanEvents = n >= meanEvents ? n : meanEvents + SMOOTHING * (n - meanEvents);
      size = Math.min(MAX_JOBS_IN_WINDOW, Math.max(minimum, Math.ceil(eventsWanted / meanEvents)));
    },
  };
}

/** A window that never moves: `size` jobs. */
export const fixedJobWindow = (size: number): JobWindow => ({ size, observe() {} });
