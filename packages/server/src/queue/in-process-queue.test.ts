/**
 * The in-process queue keeps BullMQ's promises: every job runs, at most
 * `jobWindow.size` at once, a failing job is retried with doubling backoff until
 * its attempts run out and is then kept as failed, and a clean stop drains
 * what is queued.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DatabaseUnavailableError, QueueUnavailableError } from '../errors.js';
import { fixedJobWindow } from '../worker/job-window.js';
import { createInProcessQueue } from './in-process-queue.js';
import { EVENTS_JOB_OPTIONS, type QueuedEvent } from './types.js';

const logger = pino({ level: 'silent' });

function event(n: number): QueuedEvent {
  return {
    eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    visitorId: '00000000-0000-4000-8000-000000000000',
    siteId: 's',
    eventType: 'page_view',
    path: `/${n}`,
    timestamp: '2024-11-14T10:00:00Z',
    receivedAt: Date.now(),
  };
}

/** Lets the queue's own timers and promise callbacks run as far as `ms` of fake time. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('in-process queue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('uses the BullMQ job options by default: the first retry 2 s after a failure', async () => {
    expect(EVENTS_JOB_OPTIONS).toMatchObject({ attempts: 4, backoff: { type: 'exponential', delay: 2_000 } });
    const queue = createInProcessQueue({ logger });
    const seen: number[] = [];
    const started = Date.now();
    queue.startWorker({
      jobWindow: fixedJobWindow(1),
      processor: async () => {
        seen.push(Date.now() - started);
        if (seen.length < 2) throw new Error('first try fails');
      },
    });
    await queue.enqueueEvents([event(1)]);
    await advance(1_999);
    expect(seen).toEqual([0]);
    await advance(1);
    expect(seen).toEqual([0, 2_000]);
    expect(await queue.counts()).toMatchObject({ failed: 0, delayed: 0, waiting: 0, active: 0 });
  });

  it('runs every job once, at most `jobWindow.size` at a time', async () => {
    const queue = createInProcessQueue({ logger });
    let active = 0;
    let peak = 0;
    const done: string[] = [];
    const worker = queue.startWorker({
      jobWindow: fixedJobWindow(3),
      processor: async (events) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 10));
        done.push(...events.map((e) => e.path));
        active--;
      },
    });
    for (let n = 0; n < 20; n++) await queue.enqueueEvents([event(n)]);
    await advance(100);
    await worker.close();
    expect(done.sort()).toEqual(Array.from({ length: 20 }, (_, n) => `/${n}`).sort());
    expect(peak).toBe(3);
    // Done jobs are dropped, as BullMQ's are, but counted.
    expect(await queue.counts()).toMatchObject({
      waiting: 0,
      active: 0,
      completed: 20,
      failed: 0,
      delayed: 0,
      total: 20,
    });
  });

  it('retries with doubling backoff (20, 40, 80 ms), then keeps the job as failed', async () => {
    const queue = createInProcessQueue({ logger, backoffMs: 20 });
    const tries: number[] = [];
    const started = Date.now();
    queue.startWorker({
      jobWindow: fixedJobWindow(2),
      processor: async () => {
        tries.push(Date.now() - started);
        throw new Error('bad batch');
      },
    });
    await queue.enqueueEvents([event(1)]);
    await advance(0);
    expect(await queue.counts()).toMatchObject({ delayed: 1, failed: 0 });
    await advance(200);
    expect(tries).toEqual([0, 20, 60, 140]);
    expect(await queue.counts()).toMatchObject({ failed: 1, delayed: 0, waiting: 0, active: 0, total: 1 });
  });

  it('a database outage returns the job without spending an attempt', async () => {
    const queue = createInProcessQueue({ logger, backoffMs: 20 });
    let outages = 6; // more than the job's 4 attempts
    let badTries = 3; // then it still has all 4 attempts for a real failure
    const folded: string[] = [];
    queue.startWorker({
      jobWindow: fixedJobWindow(1),
      processor: async (events) => {
        if (outages-- > 0) throw new DatabaseUnavailableError(new Error('connect ECONNREFUSED'));
        if (badTries-- > 0) throw new Error('lock timeout');
        folded.push(...events.map((e) => e.path));
      },
    });
    await queue.enqueueEvents([event(1)]);
    await advance(0);
    // Waiting out an outage is a fixed pause, not the job's backoff.
    expect(await queue.counts()).toMatchObject({ delayed: 1, failed: 0 });
    await advance(10_000);
    expect(folded).toEqual(['/1']);
    expect(await queue.counts()).toMatchObject({ failed: 0, delayed: 0, waiting: 0, completed: 1, total: 1 });
  });

  it('a clean stop runs what is waiting and what waits for a retry', async () => {
    const queue = createInProcessQueue({ logger, backoffMs: 60_000 });
    const done: string[] = [];
    let failFirst = true;
    const worker = queue.startWorker({
      jobWindow: fixedJobWindow(1),
      processor: async (events) => {
        if (failFirst) {
          failFirst = false;
          throw new Error('transient');
        }
        done.push(...events.map((e) => e.path));
      },
    });
    await queue.enqueueEvents([event(1)]);
    await advance(0);
    await queue.enqueueEvents([event(2)]);
    await queue.close();
    await expect(queue.enqueueEvents([event(3)])).rejects.toBeInstanceOf(QueueUnavailableError);
    const stopped = Date.now();
    const closing = worker.close();
    await advance(0);
    await closing;
    // No fake time passed: the job due for a retry in 60 s ran at once.
    expect(Date.now() - stopped).toBe(0);
    expect(done.sort()).toEqual(['/1', '/2']);
  });
});
