/**
 * The batch processor both queues run. Jobs that the worker runs at the same
 * time are group-committed into one fold: every fold of a site and day updates
 * the same aggregate rows, so concurrent folds would only queue behind each
 * other's row locks; one larger fold does the same work once. A job resolves
 * when the transaction holding its events commits. A job's events are encoded
 * for the fold as it arrives (`encodeEvents`), and the queue lets go of the
 * parsed events: about 10 MB less peak memory in a drain (docs/scaling.md).
 *
 * One bad event never fails the events it shares a fold or a job with: when a
 * shared fold fails, each job is folded alone, and a job whose fold fails for
 * anything but the connection is split in halves and refolded (bisection),
 * down to the single event (a job's events are read again for it: `reload`).
 * An event PostgreSQL refuses on its data (SQLSTATE
 * class 22 data exception, 23 integrity, 54 program limit such as an index
 * row too large) is parked in `parked_events` with the reason, and its job
 * completes; any other failure of a single event fails its job, once the
 * job's other events are folded.
 *
 * A fold is retried in place when PostgreSQL picks it as a deadlock or
 * serialization victim (cheaper than a queue retry with its 2 s backoff). An
 * unreachable database becomes a `DatabaseUnavailableError`, which the queues
 * answer by putting the job back without spending an attempt. Any other
 * failure propagates, and the queue retries the job — safe, because the fold
 * is exactly-once.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import { DatabaseUnavailableError, isDatabaseConnectionError } from '../errors.js';
import { createGroupCommit } from '../queue/group-commit.js';
import type { FoldResult, JobWindow, QueuedEvent, ReloadEvents } from '../queue/types.js';
import { type EncodedEvents, encodeEvents, type FoldedEvents, foldEncoded } from './fold-batch.js';
import { fixedJobWindow } from './job-window.js';
import { parkEvent } from './park.js';
import type { VisitRules } from './visits.js';

const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const IN_PLACE_ATTEMPTS = 5;

function sqlState(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } };
  const code = candidate?.code ?? candidate?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** SQLSTATE classes that blame the data, so the event would fail on every attempt: park it. */
const DATA_ERROR_SQLSTATE = /^(22|23|54)/;

/**
 * Events one shared fold takes at most. A fold's counter rows (a site's day, its paths, countries, sources…)
 * are written once whatever its size, so a larger fold writes fewer of them an event: 10,000 drained about
 * 10% faster than 5,000 in interleaved runs (docs/scaling.md); memory then wants `server-flags.mjs`.
 */
const MAX_EVENTS_PER_FOLD = 10_000;
/** Folds under way at once: two let one fold insert its raw events while the other waits for its commit. */
const FOLDS_IN_FLIGHT = 2;
/**
 * How long a fold waits for more jobs to join it (see `queue/group-commit.ts`).
 * Every fold of a site and day rewrites the same aggregate and path rows and
 * pays a commit, so fewer, larger folds leave more CPU to ingestion; 20 ms is
 * small beside the freshness users expect of a stats page.
 */
const FOLD_LINGER_MS = 20;
/** Events the folds in flight take at most: what the worker's job window aims to hold (`job-window.ts`). */
export const FOLD_EVENTS_IN_FLIGHT = FOLDS_IN_FLIGHT * MAX_EVENTS_PER_FOLD;

export interface ProcessorOptions {
  db: Database;
  logger: Logger;
  /** Called after each fold, for metrics and caches. */
  onFolded?: (result: FoldResult, folded: FoldedEvents) => void;
  /** Called after an event was parked, for metrics. */
  onParked?: (event: QueuedEvent) => void;
  /** The jobs the queue holds at once (`job-window.ts`): a fold stops waiting once its share of them has joined. */
  jobWindow?: JobWindow;
  /** `VISIT_TIMEOUT_MINUTES` and `LATE_EVENT_HOURS`; SPEC defaults when absent. */
  visitRules?: VisitRules;
}

export function createBatchProcessor({
  db,
  logger,
  onFolded,
  onParked,
  jobWindow = fixedJobWindow(10),
  visitRules,
}: ProcessorOptions) {
  async function foldWithRetries(batches: EncodedEvents[]): Promise<FoldResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await foldEncoded(db, batches, visitRules);
        onFolded?.(result, folded(batches));
        return result;
      } catch (error) {
        if (isDatabaseConnectionError(error)) throw new DatabaseUnavailableError(error);
        const state = sqlState(error);
        if (attempt >= IN_PLACE_ATTEMPTS || state === undefined || !RETRYABLE_SQLSTATES.has(state)) throw error;
        logger.warn({ sqlState: state, attempt }, 'fold lost a lock race; retrying in place');
      }
    }
  }

  /** Folds `events`, bisecting around the ones PostgreSQL refuses and parking them. */
  async function foldIsolating(events: QueuedEvent[]): Promise<void> {
    try {
      // Encoded here, not before: a job someone else wrote may hold an event that is not even an object.
      await foldWithRetries([encodeEvents(events)]);
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) throw error;
      const [only] = events;
      if (events.length <= 1) {
        const state = sqlState(error);
        // Not even an object (a job someone else wrote): nothing to park, the job fails on it.
        if (!only || state === undefined || !DATA_ERROR_SQLSTATE.test(state)) throw error;
        await parkEvent(db, only, error, state).catch((parkError: unknown) => {
          throw isDatabaseConnectionError(parkError) ? new DatabaseUnavailableError(parkError) : parkError;
        });
        logger.warn({ eventId: only.eventId, siteId: only.siteId, sqlState: state, err: error }, 'event parked');
        onParked?.(only);
        return;
      }
      // Both halves are folded even when the first fails for good: its failure is the job's, after them.
      const half = Math.ceil(events.length / 2);
      const failures: unknown[] = [];
      for (const slice of [events.slice(0, half), events.slice(half)]) {
        await foldIsolating(slice).catch((sliceError: unknown) => {
          if (sliceError instanceof DatabaseUnavailableError) throw sliceError;
          failures.push(sliceError);
        });
      }
      if (failures.length > 0) throw failures[0];
    }
  }

  const shared = createGroupCommit<EncodedEvents>({
    write: async (batches) => void (await foldWithRetries(batches)),
    weight: (batch) => batch.size,
    maxItems: MAX_EVENTS_PER_FOLD,
    maxInFlight: FOLDS_IN_FLIGHT,
    lingerMs: FOLD_LINGER_MS,
    maxCallers: () => Math.max(1, Math.floor(jobWindow.size / FOLDS_IN_FLIGHT)),
  });

  /** A job's encoded events in the shared fold; should it fail, the job's events alone, read again. */
  async function foldJob(batch: EncodedEvents, reload: ReloadEvents): Promise<void> {
    try {
      await shared.add([batch]);
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) throw error;
      // Maybe another job's events sank the shared fold: fold this job's alone, isolating its bad events.
      await foldIsolating(await reload());
    }
  }

  /**
   * Not async, and nothing it starts keeps `events`: once encoded, the job's event objects can go (the
   * queue drops its own reference too), and `reload` reads them again if the fold fails.
   */
  return function processBatch(events: QueuedEvent[], reload?: ReloadEvents): Promise<void> {
    // A job written by something other than this server's API: a bad job, for the failed set, not a fold.
    if (!Array.isArray(events)) return Promise.reject(new TypeError('job data holds no array of events'));
    let batch: EncodedEvents;
    try {
      batch = encodeEvents(events);
    } catch {
      return foldIsolating(events); // an event that is not an object: fold the others, fail the job on it
    }
    return foldJob(batch, reload ?? (async () => events));
  };
}

/** What a fold's jobs tell the metrics and caches. */
function folded(batches: readonly EncodedEvents[]): FoldedEvents {
  if (batches.length === 1) return (batches[0] as EncodedEvents).folded;
  return {
    sites: new Set(batches.flatMap((batch) => [...batch.folded.sites])),
    receivedAt: batches.flatMap((batch) => batch.folded.receivedAt),
  };
}
