/**
 * Rate limits for ingestion: requests per client IP and events per site, in
 * fixed one-minute windows. On BullMQ the counters live in Redis (shared by
 * every API instance) and one Lua script checks and counts all of a request's
 * keys in one round trip; the keys sit under the queue prefix's hash tag, so
 * they share a Redis Cluster slot. The embedded default counts in process.
 *
 * A request over any limit counts against none, so one noisy client cannot use
 * up a site's budget with refused requests. When Redis cannot answer, requests
 * pass: ingestion itself then answers 503 if the queue is down too.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TooManyRequestsError } from '../errors.js';

export const RATE_LIMIT_WINDOW_MS = 60_000;

/** One counter a request must fit in: `cost` more must stay within `max`. */
export interface RateLimitCharge {
  key: string;
  cost: number;
  max: number;
}

export interface RateLimitStore {
  /** Counts every charge when all fit (returns -1), else counts none and returns the index of one that does not. */
  charge(charges: readonly RateLimitCharge[], windowMs: number): Promise<number>;
}

const CHARGE_SCRIPT = `
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + tonumber(ARGV[2 * i]) > tonumber(ARGV[2 * i + 1]) then return i - 1 end
end
for i = 1, #KEYS do
  local cost = tonumber(ARGV[2 * i])
  if redis.call('INCRBY', KEYS[i], cost) == cost then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return -1`;

type ChargingRedis = Redis & { tallyRateLimit(keyCount: number, ...args: (string | number)[]): Promise<number> };

/** Redis counters; give it a connection with a short `commandTimeout` so a hung Redis cannot hold requests. */
export function redisRateLimitStore(redis: Redis): RateLimitStore {
  const charging = redis as ChargingRedis;
  if (typeof charging.tallyRateLimit !== 'function') {
    redis.defineCommand('tallyRateLimit', { lua: CHARGE_SCRIPT });
  }
  return {
    async charge(charges, windowMs) {
      const args: (string | number)[] = charges.map((c) => c.key);
      args.push(windowMs);
      for (const c of charges) args.push(c.cost, c.max);
      return charging.tallyRateLimit(charges.length, ...args);
    },
  };
}

/**
 * In-process counters, for the embedded default's single process. Keys come
 * from client input (IPs, site ids), so a window holds at most `maxKeys`;
 * past that, new keys pass uncounted until the next window (fail open, as
 * when Redis cannot count) rather than grow memory without bound.
 */
export function memoryRateLimitStore({ maxKeys = 100_000 }: { maxKeys?: number } = {}): RateLimitStore {
  const counts = new Map<string, number>();
  let window = -1;
  return {
    async charge(charges, windowMs) {
      // Keys carry their window, so the map only ever needs the current one.
      const now = Math.floor(Date.now() / windowMs);
      if (now !== window) {
        counts.clear();
        window = now;
      }
      const over = charges.findIndex((c) => (counts.get(c.key) ?? 0) + c.cost > c.max);
      if (over >= 0) return over;
      for (const c of charges) {
        const count = counts.get(c.key);
        if (count !== undefined || counts.size < maxKeys) counts.set(c.key, (count ?? 0) + c.cost);
      }
      return -1;
    },
  };
}

export interface RateLimiterOptions {
  store: RateLimitStore;
  /** Key prefix, e.g. the queue prefix `{tally}`. */
  prefix: string;
  ipPerMinute: number;
  sitePerMinute: number;
  logger: Logger;
  windowMs?: number;
}

export interface RateLimiter {
  /** Resolves when the request fits; throws `TooManyRequestsError` (429 with `Retry-After`) when it does not. */
  admit(ip: string, eventsBySite: ReadonlyMap<string, number>): Promise<void>;
}

const STORE_ERROR_LOG_INTERVAL_MS = 10_000;

/** `undefined` when both limits are off, so the routes skip the limiter entirely. */
export function createRateLimiter({
  store,
  prefix,
  ipPerMinute,
  sitePerMinute,
  logger,
  windowMs = RATE_LIMIT_WINDOW_MS,
}: RateLimiterOptions): RateLimiter | undefined {
  if (ipPerMinute === 0 && sitePerMinute === 0) return undefined;
  let lastStoreErrorLog = 0;
  return {
    async admit(ip, eventsBySite) {
      const now = Date.now();
      const window = Math.floor(now / windowMs);
      const charges: RateLimitCharge[] = [];
      if (ipPerMinute > 0) charges.push({ key: `${prefix}:ratelimit:ip:${ip}:${window}`, cost: 1, max: ipPerMinute });
      if (sitePerMinute > 0) {
        for (const [siteId, events] of eventsBySite)
          charges.push({ key: `${prefix}:ratelimit:site:${siteId}:${window}`, cost: events, max: sitePerMinute });
      }
      let over: number;
      try {
        over = await store.charge(charges, windowMs);
      } catch (error) {
        // Fail open: a limiter that cannot count must not turn visitors away or hold them up.
        if (now - lastStoreErrorLog > STORE_ERROR_LOG_INTERVAL_MS) {
          lastStoreErrorLog = now;
          logger.warn({ err: error }, 'rate limiter unavailable; letting requests through');
        }
        return;
      }
      if (over < 0) return;
      const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
      const which = ipPerMinute > 0 && over === 0 ? 'this client' : 'this site';
      throw new TooManyRequestsError(`Too many requests from ${which}; retry later`, retryAfterSeconds);
    },
  };
}
