/**
 * What both queues share: the job's payload, the interface the routes and the
 * wiring speak, and BullMQ's job options (which the in-process queue copies).
 * BullMQ implements it (`events-queue.ts`), the embedded default implements it
 * in process (`in-process-queue.ts`). Neither imports the worker: the wiring
 * (`services.ts`) hands them the batch processor.
 */
import type { QueueCounts } from '@tally/shared';

export type { QueueCounts };

/**
 * An event as the server queues it: identity resolved, ids filled in, the time
 * it was received attached. This is what a job carries to the worker.
 */
export interface QueuedEvent {
  eventId: string;
  visitorId: string;
  siteId: string;
  eventType: string;
  path: string;
  /** ISO 8601, as the client sent it. */
  timestamp: string;
  userId?: string;
  referrer?: string;
  props?: Record<string, string | number | boolean>;
  /** Epoch milliseconds at which the API accepted the event. */
  receivedAt: number;
  // As the client sent them (SPEC §10).
  utmSource?: string;
  utmMedium?: string;
  utmCampaign?: string;
  utmTerm?: string;
  utmContent?: string;
  /** From the event, else the request's `Accept-Language`. */
  language?: string;
  screenWidth?: number;
  // Derived by `ingest/enrich.ts` from the request and the event; absent when unknown.
  source?: string;
  channel?: string;
  /** The referrer's host, `www.` dropped; absent for none or the site's own host. */
  referrerDomain?: string;
  device?: string;
  browser?: string;
  browserVersion?: string;
  os?: string;
  osVersion?: string;
  country?: string;
  region?: string;
  city?: string;
}

export interface EventsJobData {
  events: QueuedEvent[];
}

/** SPEC §4: the first try plus 3 retries at 2 s, 4 s and 8 s; completed jobs dropped, failed ones kept. */
export const EVENTS_JOB_OPTIONS = {
  attempts: 4,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: true,
  removeOnFail: false,
} as const;

/**
 * How often a job may be found stalled (its worker died or hung past its lock)
 * before BullMQ fails it. BullMQ's default is 1, so two worker crashes could
 * fail a job whose events were fine. The fold is exactly-once, so running a
 * stalled job again is always safe: failed must mean a bad job, never a crash.
 */
export const MAX_STALLED_COUNT = 1_000;

/** How long a worker pauses taking jobs while PostgreSQL is unreachable (no attempt is spent). */
export const DATABASE_OUTAGE_PAUSE_MS = 1_000;

/** What folding one batch did. */
export interface FoldResult {
  /** Events new to `raw_events`, hence counted. */
  inserted: number;
  /** Events already stored (redelivery or resend), hence not counted again. */
  duplicates: number;
}

/** Reads a job's events again: its worker may have let go of them once they were encoded for the fold. */
export type ReloadEvents = () => Promise<QueuedEvent[]>;

/**
 * What a worker does with one job: fold its events into the database. A queue
 * that keeps its jobs elsewhere (Redis) passes `reload` and drops its own
 * reference to `events`; without one the processor keeps them.
 */
export type BatchProcessor = (events: QueuedEvent[], reload?: ReloadEvents) => Promise<unknown>;

/**
 * How many jobs a worker takes at once (`worker/job-window.ts`): the queue
 * reads `size` before it takes another job and tells `observe` each job's
 * event count.
 */
export interface JobWindow {
  readonly size: number;
  observe(eventsInJob: number): void;
}

export interface EventQueue {
  /** Resolves once the events are durable in the queue; rejects with `QueueUnavailableError` otherwise. */
  enqueueEvents(events: QueuedEvent[]): Promise<void>;
  counts(): Promise<QueueCounts>;
  /** Throws when the queue's backing store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface QueueWorker {
  /** Stops taking jobs, waits for the active ones, closes connections. */
  close(): Promise<void>;
}
