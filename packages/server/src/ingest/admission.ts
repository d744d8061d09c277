/**
 * The gate both ingestion routes pass validated events through before the
 * queue: a page on an origin outside `ALLOWED_ORIGINS` is refused with 403,
 * bots are dropped without a word (the caller still answers 202), and the
 * rate limits are charged — one Redis round trip, none when they are off.
 *
 * Why 403 for origins and 202 for bots: `ALLOWED_ORIGINS` is the operator's
 * own setting, so a refusal is news they want to see in the browser console
 * of a page they forgot to list, while a bot should learn nothing. CORS alone
 * refuses nothing: a `text/plain` POST needs no preflight, so without this
 * check its events would be stored and only the answer hidden. Requests with
 * no `Origin` (servers, curl, same-origin GETs never post here) pass.
 */

import type { Context } from 'hono';
import { ForbiddenError } from '../errors.js';
import type { QueuedEvent } from '../queue/types.js';
import type { BotFilter } from './bot-filter.js';
import { markFiltered } from './bot-filter.js';
import { clientIp } from './client-ip.js';
import type { RateLimiter } from './rate-limit.js';

/** Who may send events: the bot filter and the rate limits, each absent when turned off. */
export interface AdmissionGate {
  /** `ALLOWED_ORIGINS`; empty or absent: every origin. */
  allowedOrigins?: ReadonlySet<string>;
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
 * silently; throws `ForbiddenError` for an origin that is not allowed, and
 * rejects with `TooManyRequestsError` over a rate limit. Synchronous unless a
 * rate limit is on, so the default path allocates no promise.
 */
export function admitEvents(
  c: Context,
  { allowedOrigins, botFilter, rateLimiter, trustProxy }: AdmissionGate,
  events: readonly QueuedEvent[],
): boolean | Promise<boolean> {
  if (allowedOrigins && allowedOrigins.size > 0) {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      markFiltered(c, 'origin', events.length);
      throw new ForbiddenError(`Origin ${origin} is not allowed to send events (ALLOWED_ORIGINS)`);
    }
  }
  if (botFilter?.isBot(c)) {
    markFiltered(c, 'user_agent', events.length);
    return false;
  }
  if (!rateLimiter) return true;
  return rateLimiter.admit(clientIp(c, trustProxy), eventsBySite(events)).then(() => true);
}
