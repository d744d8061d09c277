/**
 * The queue of the embedded default (SPEC §7): the `EventQueue` interface kept
 * in this process's memory, with BullMQ's job options (4 attempts, backoff
 * 2 s, 4 s, 8 s; completed jobs dropped, failed ones kept) and its worker
 * concurrency. `main.ts` hands it the batch processor, as it does BullMQ.
 *
 * Events waiting here are lost if the process crashes (a clean SIGTERM drains
 * them first); that is the price of needing no Redis, and `main.ts` says so.
 */
import type { Logger } from 'pino';
import { DatabaseUnavailableError, QueueUnavailableError } from '../errors.js';
import {
  type BatchProcessor,
  DATABASE_OUTAGE_PAUSE_MS,
  EVENTS_JOB_OPTIONS,
  type EventQueue,
  type JobWindow,
  type QueueCounts,
  type QueuedEvent,
  type QueueWorker,
} from './types.js';

interface Job {
  id: number;
  events: QueuedEvent[];
  attemptsMade: number;
}

export interface InProcessQueueOptions {
  logger: Logger;
  /** Defaults to the BullMQ queue's `attempts`. */
  attempts?: number;
  /** Delay before the first retry, doubled for each later one; defaults to the BullMQ queue's. */
  backoffMs?: number;
}

export interface InProcessQueue extends EventQueue {
  /** Starts taking jobs with `processor`, at most `jobWindow.size` at a time. */
  startWorker(options: { processor: BatchProcessor; jobWindow: JobWindow }): QueueWorker;
}

export function createInProcessQueue({
  logger,
  attempts = EVENTS_JOB_OPTIONS.attempts,
  backoffMs = EVENTS_JOB_OPTIONS.backoff.delay,
}: InProcessQueueOptions): InProcessQueue {
  const waiting: Job[] = [];
  const delayed = new Map<Job, NodeJS.Timeout>();
  const failed: Job[] = [];
  let active = 0;
  /** Jobs done since start (they are dropped, as BullMQ's are, so this counter is all that is left of them). */
  let completed = 0;
  let nextId = 1;
  let closed = false;
  let worker: { processor: BatchProcessor; jobWindow: JobWindow } | undefined;
  let draining = false;
  let onIdle: (() => void) | undefined;

  function isIdle() {
    return waiting.length === 0 && delayed.size === 0 && active === 0;
  }

  function pump() {
    while (worker && active < worker.jobWindow.size && waiting.length > 0) {
      const job = waiting.shift() as Job;
      worker.jobWindow.observe(job.events.length);
      run(worker.processor, job);
    }
    if (isIdle()) onIdle?.();
  }

  // BullMQ's exponential backoff: delay × 2^(attempts made − 1).
  function retryLater(job: Job, delayMs = backoffMs * 2 ** (job.attemptsMade - 1)) {
    const timer = setTimeout(() => {
      delayed.delete(job);
      waiting.push(job);
      pump();
    }, delayMs);
    delayed.set(job, timer);
  }

  async function run(processor: BatchProcessor, job: Job) {
    active++;
    job.attemptsMade++;
    try {
      await processor(job.events);
      completed++;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError && !draining) {
        // An outage is not the batch's fault: try again later without spending the attempt.
        job.attemptsMade--;
        logger.warn({ jobId: job.id }, 'database unavailable; job returned to the queue');
        retryLater(job, DATABASE_OUTAGE_PAUSE_MS);
        return;
      }
      const exhausted = job.attemptsMade >= attempts || draining;
      logger.warn(
        { err: error, jobId: job.id, attemptsMade: job.attemptsMade, events: job.events.length },
        'events job failed',
      );
      if (exhausted) {
        failed.push(job);
        if (draining) logger.error({ jobId: job.id, events: job.events.length }, 'events lost while shutting down');
      } else {
        retryLater(job);
      }
    } finally {
      active--;
      pump();
    }
  }

  return {
    async enqueueEvents(events) {
      if (closed) throw new QueueUnavailableError();
      waiting.push({ id: nextId++, events, attemptsMade: 0 });
      // Run on a later tick, as a BullMQ worker would: the request answers first.
      setImmediate(pump);
    },
    async counts(): Promise<QueueCounts> {
      const counts = { waiting: waiting.length, active, completed, failed: failed.length, delayed: delayed.size };
      return { ...counts, total: counts.waiting + counts.active + counts.completed + counts.failed + counts.delayed };
    },
    async ping() {},
    async close() {
      closed = true;
    },
    startWorker(options) {
      worker = options;
      setImmediate(pump);
      return {
        /** Finishes every queued job, retries due later included (one last try each), so a clean stop loses nothing. */
        async close() {
          draining = true;
          for (const [job, timer] of delayed) {
            clearTimeout(timer);
            waiting.push(job);
          }
          delayed.clear();
          const idle = new Promise<void>((resolve) => {
            onIdle = resolve;
          });
          pump();
          await idle;
          worker = undefined;
        },
      };
    },
  };
}
