/**
 * Prometheus metrics (SPEC §2, `GET /metrics`). Each process builds its own
 * registry — never prom-client's global one — so that tests and several apps
 * in one process do not share counters. The API counts requests and ingested
 * events; the worker counts jobs and how long an event took from the API
 * accepting it to its fold into PostgreSQL.
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchProcessor, EventQueue, FoldResult, QueuedEvent } from './queue/types.js';
import type { FoldedEvents } from './worker/fold-batch.js';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  ingestEvents: Counter<'outcome'>;
  /** Events dropped or refused on purpose, by reason (`user_agent`: a bot; `origin`: not in `ALLOWED_ORIGINS`). */
  filteredEvents: Counter<'reason'>;
  /** Pass as the batch processor's `onParked`. */
  onParked(event: QueuedEvent): void;
  /** Pass as the batch processor's `onFolded`. */
  onFolded(result: FoldResult, folded: FoldedEvents): void;
  /** Wraps a batch processor to count processed and failed jobs. */
  instrumentProcessor(processor: BatchProcessor): BatchProcessor;
}

export interface MetricsOptions {
  /** Read at each scrape for the queue depth gauge. */
  queue: EventQueue;
  /** Read at each scrape: events waiting in `parked_events`. */
  countParked?: () => Promise<number>;
  /** Node.js process metrics (memory, event loop lag, GC); on by default. */
  processMetrics?: boolean;
}

export function createMetrics({ queue, countParked, processMetrics = true }: MetricsOptions): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tally_' });

  const httpRequests = new Counter({
    name: 'tally_http_requests_total',
    help: 'HTTP requests answered, by method, matched route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'tally_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const ingestEvents = new Counter({
    name: 'tally_ingest_events_total',
    help: 'Events posted to /api/event and /api/events: accepted (queued) or rejected (invalid)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const filteredEvents = new Counter({
    name: 'tally_ingest_filtered_events_total',
    help: 'Events never queued nor stored on purpose, by reason (user_agent: a bot, answered 202; origin: Origin not in ALLOWED_ORIGINS, answered 403)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tally_queue_jobs',
    help: 'Jobs in the analytics-events queue, by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await queue.counts();
        for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) this.set({ state }, counts[state]);
      } catch {
        // An unreachable queue shows as missing samples; /readyz reports it.
        this.reset();
      }
    },
  });
  const jobs = new Counter({
    name: 'tally_jobs_total',
    help: 'Queue jobs (batches of events) run by this worker: processed, or failed (an attempt that threw)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const foldedEvents = new Counter({
    name: 'tally_events_folded_total',
    help: 'Events folded into the aggregates: counted (new) or duplicate (already stored, not counted again)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const parkedEvents = new Counter({
    name: 'tally_events_parked_total',
    help: 'Events this worker parked in parked_events: PostgreSQL refused their data, so they were folded apart from their job',
    registers: [registry],
  });
  if (countParked) {
    new Gauge({
      name: 'tally_parked_events',
      help: 'Events waiting in the parked_events table for an operator (docs/operations.md)',
      registers: [registry],
      async collect() {
        try {
          this.set(await countParked());
        } catch {
          this.reset(); // an unreachable database shows as a missing sample; /readyz reports it
        }
      },
    });
  }
  const processingLatency = new Histogram({
    name: 'tally_event_processing_seconds',
    help: 'Time from the API accepting an event to its fold into PostgreSQL',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });

  return {
    registry,
    httpRequests,
    httpDuration,
    ingestEvents,
    filteredEvents,
    onParked() {
      parkedEvents.inc();
    },
    onFolded(result, folded) {
      foldedEvents.inc({ result: 'counted' }, result.inserted);
      foldedEvents.inc({ result: 'duplicate' }, result.duplicates);
      const now = Date.now();
      for (const receivedAt of folded.receivedAt) processingLatency.observe(Math.max(0, now - receivedAt) / 1000);
    },
    instrumentProcessor(processor) {
      async function counted(processing: Promise<unknown>) {
        try {
          const result = await processing;
          jobs.inc({ outcome: 'processed' });
          return result;
        } catch (error) {
          jobs.inc({ outcome: 'failed' });
          throw error;
        }
      }
      // Not async: the job's events must not stay referenced while it folds (`BatchProcessor`).
      return function instrumentedProcessor(events, reload) {
        return counted(processor(events, reload));
      };
    },
  };
}
