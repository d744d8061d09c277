/**
 * Startup checks on the Redis that holds the queue. With any eviction policy
 * but `noeviction`, Redis under memory pressure may delete queued jobs, which
 * are events already answered 202: say so once, loudly, at startup.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The `maxmemory_policy` line of `INFO memory` (works where `CONFIG GET` is disabled, as on managed Redis). */
export async function readEvictionPolicy(redis: Redis): Promise<string | undefined> {
  const info = await redis.info('memory');
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/** Logs one warning when the policy could evict jobs; never throws. */
export async function warnUnlessNoEviction(redis: Redis, logger: Logger): Promise<void> {
  try {
    const policy = await readEvictionPolicy(redis);
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(
        { maxmemoryPolicy: policy },
        `Redis maxmemory-policy is ${policy}: under memory pressure Redis may evict queued events that were already acknowledged. Set maxmemory-policy noeviction.`,
      );
    }
  } catch (error) {
    logger.debug({ err: error }, 'could not read the Redis eviction policy');
  }
}
