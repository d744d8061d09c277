/**
 * Redis connections as BullMQ's maintainers recommend for production: the
 * producer fails fast so that ingestion can answer 503 instead of hanging,
 * while the worker waits out outages (`maxRetriesPerRequest: null`).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Env } from '../env.js';

export type RedisSettings = Pick<Env, 'REDIS_URL' | 'REDIS_HOST' | 'REDIS_PORT' | 'REDIS_DB' | 'REDIS_PASSWORD'> &
  Partial<Pick<Env, 'REDIS_TLS'>>;

const retryStrategy = (times: number) => Math.min(200 * 2 ** times, 5_000);

/**
 * `limiter` is a producer whose commands also give up after 250 ms: the rate
 * limiter lets a request through rather than hold it up on a slow Redis.
 */
export function createRedisConnection(env: RedisSettings, role: 'producer' | 'worker' | 'limiter'): Redis {
  const options: RedisOptions =
    role !== 'worker'
      ? {
          // A write that was under way when the connection dropped fails (the client gets a 503 and
          // resends with the same ids) rather than being replayed after we already answered.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          connectTimeout: 2_000,
          retryStrategy,
          ...(role === 'limiter' ? { commandTimeout: 250 } : {}),
        }
      : { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy };
  // A `rediss://` URL turns TLS on by itself (ioredis reads the scheme); BullMQ's duplicates keep it.
  if (env.REDIS_URL) return new Redis(env.REDIS_URL, options);
  return new Redis({
    host: env.REDIS_HOST ?? '127.0.0.1',
    port: env.REDIS_PORT,
    db: env.REDIS_DB,
    password: env.REDIS_PASSWORD,
    ...(env.REDIS_TLS ? { tls: {} } : {}),
    ...options,
  });
}
