/**
 * The in-process queue keeps BullMQ's promises: every job runs, at most
 * `concurrency` at once, a failing job is retried with doubling backoff until
 * its attempts run out and is then kept as failed, and a clean stop drains
 * what is queued.
 */
import type { QueuedEvent } from '@tally/shared';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { QueueUnavailableError } from '../errors.js';
import { EVENTS_JOB_OPTIONS } from './events-queue.js';
import { createInProcessQueue } from './in-process-queue.js';

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('in-process queue', () => {
  it('uses the BullMQ job options by default', async () => {
    expect(EVENTS_JOB_OPTIONS).toMatchObject({ attempts: 4, backoff: { type: 'exponential', delay: 2_000 } });
    const queue = createInProcessQueue({ logger });
    const seen: number[] = [];
    const started = Date.now();
    const worker = queue.startWorker({
      concurrency: 1,
      processor: async () => {
        seen.push(Date.now() - started);
        if (seen.length < 2) throw new Error('first try fails');
      },
    });
    await queue.enqueueEvents([event(1)]);
    await sleep(2_300);
    // The first retry comes 2 s after the failure, as BullMQ's backoff would.
    expect(seen).toHaveLength(2);
    expect(seen[1] as number).toBeGreaterThanOrEqual(1_950);
    await worker.close();
  });

  it('runs every job once, at most `concurrency` at a time', async () => {
    const queue = createInProcessQueue({ logger });
    let active = 0;
    let peak = 0;
    const done: string[] = [];
    const worker = queue.startWorker({
      concurrency: 3,
      processor: async (events) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(10);
        done.push(...events.map((e) => e.path));
        active--;
      },
    });
    for (let n = 0; n < 20; n++) await queue.enqueueEvents([event(n)]);
    await worker.close();
    expect(done.sort()).toEqual(Array.from({ length: 20 }, (_, n) => `/${n}`).sort());
    expect(peak).toBe(3);
    expect(await queue.counts()).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, total: 0 });
  });

  it('retries with doubling backoff, then keeps the job as failed', async () => {
    const queue = createInProcessQueue({ logger, backoffMs: 20 });
    const tries: number[] = [];
    const worker = queue.startWorker({
      concurrency: 2,
      processor: async () => {
        tries.push(Date.now());
        throw new Error('database down');
      },
    });
    await queue.enqueueEvents([event(1)]);
    await sleep(10);
    expect((await queue.counts()).delayed).toBe(1);
    for (let waited = 0; tries.length < 4 && waited < 2_000; waited += 10) await sleep(10);
    await sleep(20);
    expect(tries).toHaveLength(4);
    const gaps = tries.slice(1).map((at, i) => at - (tries[i] as number));
    // 20, 40, 80 ms: each wait at least its backoff, and each longer than the one before.
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(await queue.counts()).toMatchObject({ failed: 1, delayed: 0, waiting: 0, active: 0, total: 1 });
    await worker.close();
  });

  it('a clean stop runs what is waiting and what waits for a retry', async () => {
    const queue = createInProcessQueue({ logger, backoffMs: 60_000 });
    const done: string[] = [];
    let failFirst = true;
    const worker = queue.startWorker({
      concurrency: 1,
      processor: async (events) => {
        if (failFirst) {
          failFirst = false;
          throw new Error('transient');
        }
        done.push(...events.map((e) => e.path));
      },
    });
    await queue.enqueueEvents([event(1)]);
    await sleep(10);
    await queue.enqueueEvents([event(2)]);
    await queue.close();
    await expect(queue.enqueueEvents([event(3)])).rejects.toBeInstanceOf(QueueUnavailableError);
    const stopped = Date.now();
    await worker.close();
    expect(Date.now() - stopped).toBeLessThan(1_000);
    expect(done.sort()).toEqual(['/1', '/2']);
  });
});
