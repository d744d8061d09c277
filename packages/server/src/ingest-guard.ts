/**
 * The gate both ingestion routes pass validated events through before the
 * queue: bots are dropped without a word (the caller still answers 202), and
 * the rate limits are charged — one Redis round trip, none when they are off.
 */
import type { QueuedEvent } from '@tally/shared';
import type { Context } from 'hono';
import { clientIp } from './client-ip.js';
import { markFiltered } from './privacy/bot-filter.js';
import type { IngestDeps } from './routes/ingest-deps.js';

function eventsBySite(events: readonly QueuedEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.siteId, (counts.get(event.siteId) ?? 0) + 1);
  return counts;
}

/**
 * True when the events may be queued; false when they are to be dropped
 * silently; rejects with `TooManyRequestsError` over a rate limit. Synchronous
 * unless a rate limit is on, so the default path allocates no promise.
 */
export function admitEvents(
  c: Context,
  { botFilter, rateLimiter, trustProxy }: IngestDeps,
  events: readonly QueuedEvent[],
): boolean | Promise<boolean> {
  if (botFilter?.isBot(c)) {
    markFiltered(c, 'user_agent', events.length);
    return false;
  }
  if (!rateLimiter) return true;
  return rateLimiter.admit(clientIp(c, trustProxy), eventsBySite(events)).then(() => true);
}

/**
 * The tail both ingestion routes share: queue the validated events unless the
 * gate drops them. Resolves once they are durable in the queue (or dropped).
 */
export async function enqueueAdmitted(c: Context, deps: IngestDeps, events: QueuedEvent[]): Promise<void> {
  if (await admitEvents(c, deps, events)) await deps.queue.enqueueEvents(events);
}
