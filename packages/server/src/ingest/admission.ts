/**
 * The gate both ingestion routes pass validated events through before the
 * queue: bots are dropped without a word (the caller still answers 202), and
 * the rate limits are charged — one Redis round trip, none when they are off.
 */

import type { Context } from 'hono';
import type { QueuedEvent } from '../queue/types.js';
import type { BotFilter } from './bot-filter.js';
import { markFiltered } from './bot-filter.js';
import { clientIp } from './client-ip.js';
import type { RateLimiter } from './rate-limit.js';

/** Who may send events: the bot filter and the rate limits, each absent when turned off. */
export interface AdmissionGate {
  botFilter?: BotFilter;
  rateLimiter?: RateLimiter;
  /** `TRUST_PROXY` as a number of hops, for the client IP the rate limiter counts. */
  trustProxy: number;
}

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
  { botFilter, rateLimiter, trustProxy }: AdmissionGate,
  events: readonly QueuedEvent[],
): boolean | Promise<boolean> {
  if (botFilter?.isBot(c)) {
    markFiltered(c, 'user_agent', events.length);
    return false;
  }
  if (!rateLimiter) return true;
  return rateLimiter.admit(clientIp(c, trustProxy), eventsBySite(events)).then(() => true);
}
