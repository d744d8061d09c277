/**
 * The BullMQ queue `analytics-events`: one job per batch of events, retried
 * with exponential backoff (SPEC §4), and the worker that drains it. Requests
 * that arrive together are group-committed into one job (`group-commit.ts`);
 * a request's events are never split across jobs.
 */
import { EVENTS_QUEUE_NAME, type QueuedEvent } from '@tally/shared';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, QueueUnavailableError } from '../errors.js';
import { createGroupCommit } from '../group-commit.js';
import type { BatchProcessor, EventQueue, EventsJobData, QueueWorker } from './types.js';

export const EVENTS_JOB_OPTIONS = {
  attempts: 4,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: true,
  removeOnFail: false,
} as const;

/** A queue write that Redis has not acknowledged by then answers 503; the client resends with the same ids. */
const ENQUEUE_TIMEOUT_MS = 5_000;

export interface BullQueueOptions {
  /** See `connection.ts`: fail-fast for producers, patient for workers. */
  connection: Redis;
  prefix: string;
  logger: Logger;
}

export interface GroupCommitSettings {
  /** Events per job at most (whole requests are never split). */
  maxEvents: number;
  /** Queue writes under way at once. */
  maxInFlight: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitSettings = { maxEvents: 1_000, maxInFlight: 4 };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`queue write timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createBullEventsQueue({
  connection,
  prefix,
  logger,
  groupCommit = DEFAULT_GROUP_COMMIT,
}: BullQueueOptions & { groupCommit?: GroupCommitSettings }): EventQueue & {
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
      await withTimeout(queue.add('batch', { events }), ENQUEUE_TIMEOUT_MS);
    },
    maxItems: groupCommit.maxEvents,
    maxInFlight: groupCommit.maxInFlight,
  });

  return {
    queue,
    async enqueueEvents(events: QueuedEvent[]) {
      try {
        await jobs.add(events);
      } catch (error) {
        logger.warn({ err: error }, 'could not enqueue events');
        throw new QueueUnavailableError();
      }
    },
    async counts() {
      const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
      const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      const { active = 0, completed = 0, failed = 0, delayed = 0 } = counts;
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
  concurrency: number;
  processor: BatchProcessor;
  /**
   * How long a job's lock lasts, hence how soon a job of a killed worker is
   * picked up again (BullMQ's `lockDuration` and `stalledInterval`).
   */
  lockMs?: number;
}

/** While PostgreSQL is unreachable the worker pauses this long between tries, spending no attempts. */
export const DATABASE_OUTAGE_PAUSE_MS = 1_000;

export function startBullWorker({
  connection,
  prefix,
  logger,
  concurrency,
  processor,
  lockMs = 30_000,
}: BullWorkerOptions): QueueWorker & {
  worker: Worker<EventsJobData>;
} {
  const worker: Worker<EventsJobData> = new Worker<EventsJobData>(
    EVENTS_QUEUE_NAME,
    async (job) => {
      try {
        return await processor(job.data.events);
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError)) throw error;
        // Back to the queue with its attempts intact: an outage is not the batch's fault.
        logger.warn({ jobId: job.id }, 'database unavailable; job returned to the queue');
        await worker.rateLimit(DATABASE_OUTAGE_PAUSE_MS);
        throw Worker.RateLimitError();
      }
    },
    { connection, prefix, concurrency, lockDuration: lockMs, stalledInterval: lockMs },
  );
  worker.on('error', (error) => logger.error({ err: error }, 'worker connection error'));
  worker.on('failed', (job, error) =>
    logger.warn(
      { err: error, jobId: job?.id, attemptsMade: job?.attemptsMade, events: job?.data.events.length },
      'events job failed',
    ),
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
