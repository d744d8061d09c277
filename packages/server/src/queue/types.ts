/**
 * The queue interface the routes and `main.ts` speak. BullMQ implements it
 * (`events-queue.ts`); the embedded default implements it in process. Neither
 * imports the worker: `main.ts` hands them the batch processor.
 */
import type { QueuedEvent } from '@tally/shared';

export interface QueueCounts {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
  total: number;
}

export interface EventQueue {
  /** Resolves once the events are durable in the queue; rejects with `QueueUnavailableError` otherwise. */
  enqueueEvents(events: QueuedEvent[]): Promise<void>;
  counts(): Promise<QueueCounts>;
  /** Throws when the queue's backing store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a worker does with one job: fold its events into the database. */
export type BatchProcessor = (events: QueuedEvent[]) => Promise<unknown>;

export interface QueueWorker {
  /** Stops taking jobs, waits for the active ones, closes connections. */
  close(): Promise<void>;
}

export interface EventsJobData {
  events: QueuedEvent[];
}
