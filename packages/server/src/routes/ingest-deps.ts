import type { BotFilter } from '../privacy/bot-filter.js';
import type { VisitorIds } from '../privacy/visitor-id.js';
import type { EventQueue } from '../queue/types.js';
import type { RateLimiter } from '../rate-limit.js';

/** What the ingestion routes need: where events go, whose they are, and who may send them. */
export interface IngestDeps {
  queue: EventQueue;
  /** Resolves each event's visitor, in cookie or cookieless mode. */
  visitors: VisitorIds;
  /** Absent when `BOT_FILTER=false`. */
  botFilter?: BotFilter;
  /** Absent when both rate limits are 0. */
  rateLimiter?: RateLimiter;
  /** `TRUST_PROXY` as a number of hops, for the client IP the rate limiter counts. */
  trustProxy: number;
}
