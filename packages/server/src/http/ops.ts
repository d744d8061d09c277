/** Operations routes: queue health, liveness and readiness (SPEC §2). */
import { EVENTS_QUEUE_NAME } from '@tally/shared';
import { Hono } from 'hono';
import { QueueUnavailableError } from '../errors.js';
import type { EventQueue } from '../queue/types.js';
import { withTimeout } from '../timeouts.js';

export interface OpsDeps {
  queue: EventQueue;
  pingDatabase: () => Promise<void>;
}

const READY_CHECK_TIMEOUT_MS = 2_000;

/** `'ok'` or `'unreachable'`; the cause stays in the server's log, never in the response. */
async function check(probe: () => Promise<void>): Promise<'ok' | 'unreachable'> {
  try {
    await withTimeout(probe(), READY_CHECK_TIMEOUT_MS);
    return 'ok';
  } catch {
    return 'unreachable';
  }
}

/** Mounted at `/api/queues`: 503 (with `Retry-After`) when the queue cannot be read, never a 500 or a hang. */
export function queueHealthRoutes({ queue }: Pick<OpsDeps, 'queue'>) {
  return new Hono().get('/health', async (c) => {
    let counts: Awaited<ReturnType<EventQueue['counts']>>;
    try {
      counts = await withTimeout(queue.counts(), READY_CHECK_TIMEOUT_MS);
    } catch {
      throw new QueueUnavailableError();
    }
    return c.json({ [EVENTS_QUEUE_NAME]: counts });
  });
}

/** Mounted at the root: `/healthz`, `/readyz`. */
export function probeRoutes({ queue, pingDatabase }: OpsDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [database, queueState] = await Promise.all([check(pingDatabase), check(() => queue.ping())]);
      const ready = database === 'ok' && queueState === 'ok';
      const checks = { database, queue: queueState };
      return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
    });
}
