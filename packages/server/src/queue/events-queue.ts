/**
 * The BullMQ queue `analytics-events`: one job per batch of events, retried
 * with exponential backoff (SPEC §4), and the worker that drains it. Requests
 * that arrive together are group-committed into one job (`group-commit.ts`);
 * a request's events are never split across jobs.
 */
import { EVENTS_QUEUE_NAME } from '@tally/shared';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, QueueUnavailableError } from '../errors.js';
import { withTimeout } from '../timeouts.js';
import { createGroupCommit } from './group-commit.js';
import {
  type BatchProcessor,
  DATABASE_OUTAGE_PAUSE_MS,
  EVENTS_JOB_OPTIONS,
  type EventQueue,
  type EventsJobData,
  type JobWindow,
  MAX_STALLED_COUNT,
  type QueuedEvent,
  type QueueWorker,
} from './types.js';

/**
 * A request whose events Redis has not acknowledged by then answers 503 with
 * their ids; the write is not cancelled and may still land, so the client
 * resends with the same ids (docs/api.md, "Retrying after 503").
 */
const ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * Requests that arrive together share a job of at most this many events (whole
 * requests are never split), with this many queue writes under way at once;
 * past `maxPending` events waiting for Redis, requests answer 503 at once
 * rather than pile up in memory behind a hung Redis.
 */
const GROUP_COMMIT = { maxEvents: 1_000, maxInFlight: 4, maxPending: 20_000 };

/**
 * Completed jobs are removed (`removeOnComplete`), so BullMQ's own completed
 * count is always 0: workers count them in this Redis key instead (INCR), and
 * `/api/queues/health` reports it, across every worker and restart.
 */
export const completedCountKey = (prefix: string) => `${prefix}:${EVENTS_QUEUE_NAME}:tally:completed-total`;

export interface BullQueueOptions {
  /** See `connection.ts`: fail-fast for producers, patient for workers. */
  connection: Redis;
  prefix: string;
  logger: Logger;
}

export function createBullEventsQueue({ connection, prefix, logger }: BullQueueOptions): EventQueue & {
  queue: Queue<EventsJobData>;
} {
  const queue = new Queue<EventsJobData>(EVENTS_QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: EVENTS_JOB_OPTIONS,
  });
  queue.on('error', (error) => logger.error({ err: error }, 'queue connection error'));
  const jobs = createGroupCommit<QueuedEvent>({
    write: async (events) => {
      await withTimeout(
        queue.add('batch', { events }),
        ENQUEUE_TIMEOUT_MS,
        `queue write timed out after ${ENQUEUE_TIMEOUT_MS} ms`,
      );
    },
    maxItems: GROUP_COMMIT.maxEvents,
    maxInFlight: GROUP_COMMIT.maxInFlight,
    maxPending: GROUP_COMMIT.maxPending,
  });

  return {
    queue,
    async enqueueEvents(events: QueuedEvent[]) {
      try {
        // The write has its own timeout, but a request may also wait behind other writes: bound both.
        await withTimeout(jobs.add(events), ENQUEUE_TIMEOUT_MS, `enqueue timed out after ${ENQUEUE_TIMEOUT_MS} ms`);
      } catch (error) {
        logger.warn({ err: error }, 'could not enqueue events');
        throw new QueueUnavailableError();
      }
    },
    async counts() {
      const [counts, completedTotal] = await Promise.all([
        queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'),
        connection.get(completedCountKey(prefix)),
      ]);
      const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      const { active = 0, failed = 0, delayed = 0 } = counts;
      const completed = (counts.completed ?? 0) + Number(completedTotal ?? 0);
      return { waiting, active, completed, failed, delayed, total: waiting + active + completed + failed + delayed };
    },
    async ping() {
      await connection.ping();
    },
    async close() {
      await queue.close();
    },
  };
}

export interface BullWorkerOptions extends BullQueueOptions {
  /** How many jobs to hold at once; told each job's size. */
  jobWindow: JobWindow;
  processor: BatchProcessor;
  /**
   * How long a job's lock lasts, hence how soon a job of a killed worker is
   * picked up again (BullMQ's `lockDuration` and `stalledInterval`).
   */
  lockMs?: number;
}

export function startBullWorker({
  connection,
  prefix,
  logger,
  jobWindow,
  processor,
  lockMs = 30_000,
}: BullWorkerOptions): QueueWorker & {
  worker: Worker<EventsJobData>;
} {
  /**
   * Hands the job's events to the processor, then drops the job's reference to them: the processor
   * keeps them encoded for the fold, and a fold that fails reads them again from Redis. Held until
   * the fold commits, the parsed events would be promoted into V8's old space: memory (docs/scaling.md).
   */
  function fold(job: Job<EventsJobData>): Promise<unknown> {
    const id = job.id as string;
    const folding = processor(job.data.events, async () => {
      const stored = await Job.fromId<EventsJobData>(worker, id);
      if (!stored) throw new Error(`job ${id} is no longer in the queue`);
      return stored.data.events;
    });
    (job as { data: EventsJobData | undefined }).data = undefined;
    return folding;
  }
  const worker: Worker<EventsJobData> = new Worker<EventsJobData>(
    EVENTS_QUEUE_NAME,
    async (job) => {
      jobWindow.observe(Array.isArray(job.data?.events) ? job.data.events.length : 1);
      // BullMQ reads this before it takes each further job.
      if (worker.concurrency !== jobWindow.size) worker.concurrency = jobWindow.size;
      try {
        return await fold(job);
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError)) throw error;
        // Back to the queue with its attempts intact: an outage is not the batch's fault.
        logger.warn({ jobId: job.id }, 'database unavailable; job returned to the queue');
        await worker.rateLimit(DATABASE_OUTAGE_PAUSE_MS);
        throw Worker.RateLimitError();
      }
    },
    {
      connection,
      prefix,
      concurrency: jobWindow.size,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: MAX_STALLED_COUNT,
    },
  );
  worker.on('error', (error) => logger.error({ err: error }, 'worker connection error'));
  worker.on('completed', () => {
    // A count for operators, not a guarantee: a lost increment only under-reports.
    connection.incr(completedCountKey(prefix)).catch(() => {});
  });
  worker.on('failed', (job, error) =>
    logger.warn({ err: error, jobId: job?.id, attemptsMade: job?.attemptsMade }, 'events job failed'),
  );
  return {
    worker,
    async close() {
      await worker.close();
      // BullMQ closes the connections it made, not the one it was given.
      connection.disconnect();
    },
  };
}
