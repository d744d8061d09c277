/**
 * Which services a configuration runs on (SPEC §7): both set → PostgreSQL and
 * Redis; neither → the embedded default; half a configuration → an error
 * naming what is missing. And `rediss://` reaches ioredis as TLS.
 */
import { describe, expect, it } from 'vitest';
import { backendOf, ConfigError, loadEnv } from './env.js';
import { createRedisConnection } from './queue/connection.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tally';

describe('backendOf', () => {
  it('runs on the services when both are set, and on the embedded default when neither is', () => {
    expect(backendOf(loadEnv({ DATABASE_URL, REDIS_URL: 'redis://127.0.0.1:6379' }))).toBe('services');
    expect(backendOf(loadEnv({ DATABASE_URL, REDIS_HOST: 'redis.internal' }))).toBe('services');
    expect(backendOf(loadEnv({}))).toBe('embedded');
    expect(loadEnv({}).TALLY_DATA_DIR).toBe('.tally');
  });

  it('names the missing half of a configuration', () => {
    expect(() => backendOf(loadEnv({ DATABASE_URL }))).toThrow(/set REDIS_URL \(or REDIS_HOST\)/);
    expect(() => backendOf(loadEnv({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toThrow(/DATABASE_URL is not/);
    expect(() => backendOf(loadEnv({ STATS_DATABASE_URL: DATABASE_URL }))).toThrow(ConfigError);
  });

  it('refuses a split role on the embedded default, which cannot share its queue', () => {
    expect(() => backendOf(loadEnv({ ROLE: 'worker' }))).toThrow(/ROLE=worker needs DATABASE_URL and REDIS_URL/);
  });
});

describe('Redis connections', () => {
  it('use TLS for rediss:// URLs and for REDIS_TLS=true', () => {
    // Port 1 on loopback: nothing listens, so nothing leaves the machine; only the options matter here.
    const fromUrl = createRedisConnection(loadEnv({ REDIS_URL: 'rediss://127.0.0.1:1' }), 'producer');
    const fromHost = createRedisConnection(
      loadEnv({ REDIS_HOST: '127.0.0.1', REDIS_PORT: '1', REDIS_TLS: 'true' }),
      'worker',
    );
    const plain = createRedisConnection(loadEnv({ REDIS_URL: 'redis://127.0.0.1:1' }), 'producer');
    const duplicate = fromUrl.duplicate();
    const connections = [fromUrl, fromHost, plain, duplicate];
    for (const connection of connections) connection.on('error', () => {});
    try {
      expect(fromUrl.options.tls).toBeTruthy();
      expect(fromUrl.options.port).toBe(1);
      expect(duplicate.options.tls).toBeTruthy();
      expect(fromHost.options.tls).toBeTruthy();
      expect(plain.options.tls).toBeFalsy();
    } finally {
      for (const connection of connections) connection.disconnect();
    }
  });
});

describe('analytics settings (SPEC §9–§11)', () => {
  it('defaults: no admin key (site writes refused), no GeoIP database, 30-minute visits, 48 hours of lateness', () => {
    expect(loadEnv({})).toMatchObject({ VISIT_TIMEOUT_MINUTES: 30, LATE_EVENT_HOURS: 48 });
    expect(loadEnv({}).ADMIN_API_KEY).toBeUndefined();
    expect(loadEnv({ GEOIP_DATABASE: '' }).GEOIP_DATABASE).toBeUndefined();
  });

  it('names a bad value', () => {
    expect(() => loadEnv({ VISIT_TIMEOUT_MINUTES: '0' })).toThrow(/VISIT_TIMEOUT_MINUTES/);
    expect(() => loadEnv({ LATE_EVENT_HOURS: 'soon' })).toThrow(/LATE_EVENT_HOURS/);
  });
});
