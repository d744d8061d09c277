/**
 * Security (issue 5): stats API keys, rate limits per client IP and per site
 * (Redis, shared by instances, failing open), the proxy-aware client IP, and
 * no internals in error responses. Basic auth on Bull Board and the API docs
 * is covered in `operations.test.ts`.
 */
import { createServer } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import type { Database } from '../src/db/client.js';
import { loadEnv } from '../src/env.js';
import { clientIp } from '../src/ingest/client-ip.js';
import { redisRateLimitStore } from '../src/ingest/rate-limit.js';
import { createRedisConnection } from '../src/queue/connection.js';
import {
  jsonOf,
  pageView,
  postJson,
  recordingLogger,
  silentLogger,
  startTestStack,
  TEST_REDIS_URL,
  type TestStack,
  testConfig,
} from './support.js';

const KEYS = ['k3y-one-0123456789abcdef', 'second-key'];

describe('stats API keys (STATS_API_KEYS)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      env: { STATS_API_KEYS: ` ${KEYS.join(' , ')} `, STATS_CORS_ORIGINS: 'https://dash.example' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const stats = (headers: Record<string, string> = {}) =>
    Promise.resolve(stack.app.request('/api/stats?siteId=s&date=2024-11-14', { headers }));

  it.each([
    ['no Authorization header', {}],
    ['a wrong key', { Authorization: 'Bearer not-the-key' }],
    ['a prefix of a key', { Authorization: `Bearer ${KEYS[0]?.slice(0, -1)}` }],
    ['a key with a suffix', { Authorization: `Bearer ${KEYS[0]}x` }],
    ['the right key under Basic', { Authorization: `Basic ${KEYS[0]}` }],
    ['an empty bearer', { Authorization: 'Bearer ' }],
    ['two keys', { Authorization: `Bearer ${KEYS[0]} ${KEYS[1]}` }],
  ])('401 in the error shape with a Bearer challenge for %s', async (_what, headers) => {
    const response = await stats(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="Tally stats"$/);
    expect(await jsonOf(response)).toEqual({
      statusCode: 401,
      message: 'Missing or invalid API key',
      error: 'Unauthorized',
    });
  });

  it('lets every configured key through (scheme case-insensitive)', async () => {
    for (const authorization of [`Bearer ${KEYS[0]}`, `bearer ${KEYS[1]}`]) {
      const response = await stats({ Authorization: authorization });
      expect(response.status).toBe(404); // past the gate: no stats for that day
    }
  });

  it('answers CORS preflights without a key, and only guards the stats', async () => {
    const preflight = await stack.app.request('/api/stats', {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://dash.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect((await postJson(stack.app, '/api/event', pageView())).status).toBe(202);
    expect((await stack.app.request('/healthz')).status).toBe(200);
  });
});

/** Fixed windows start on the minute: a test that must stay in one waits out the last seconds of one. */
async function awayFromWindowEdge() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe('rate limits', () => {
  let stack: TestStack;
  const connections: Redis[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await stack?.close();
  });

  /** An API instance on the stack's queue and Redis, with its own limiter connection. */
  async function instance(env: Record<string, string>, redisUrl?: string) {
    const config = testConfig({ QUEUE_PREFIX: stack.prefix, TRUST_PROXY: '1', ...env });
    const connection = createRedisConnection(redisUrl ? { ...config, REDIS_URL: redisUrl } : config, 'limiter');
    connection.on('error', () => {});
    connections.push(connection);
    // Until connected the limiter lets everything through (fail open), so wait for a reachable Redis.
    if (!redisUrl) await new Promise((resolve) => connection.once('ready', resolve));
    const logs = recordingLogger();
    const app = createApp({
      statsDb: stack.database.db,
      pingDatabase: stack.database.ping,
      queue: stack.queue,
      config,
      logger: logs.logger,
      rateLimitStore: redisRateLimitStore(connection),
    });
    return { app, logs };
  }
  const keysMatching = async (pattern: string) => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      return await redis.keys(pattern);
    } finally {
      redis.disconnect();
    }
  };
  const fromIp = (ip: string) => ({ 'X-Forwarded-For': ip });
  const waiting = async () => (await stack.queue.counts()).waiting;

  it('per client IP: 429 in the error shape with Retry-After, shared by every instance, nothing queued', async () => {
    await awayFromWindowEdge();
    const a = (await instance({ RATE_LIMIT_IP_PER_MINUTE: '3' })).app;
    const b = (await instance({ RATE_LIMIT_IP_PER_MINUTE: '3' })).app;
    const statuses = [];
    for (const app of [a, b, a])
      statuses.push((await postJson(app, '/api/event', pageView(), fromIp('198.51.100.1'))).status);
    expect(statuses).toEqual([202, 202, 202]);

    const before = await waiting();
    const refused = await postJson(b, '/api/event', pageView(), fromIp('198.51.100.1'));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await jsonOf(refused)).toEqual({
      statusCode: 429,
      message: 'Too many requests from this client; retry later',
      error: 'Too Many Requests',
    });
    expect(await waiting()).toBe(before);

    // Another client is not held back; without TRUST_PROXY the header would not make it another client.
    expect((await postJson(a, '/api/event', pageView(), fromIp('198.51.100.2'))).status).toBe(202);
    const untrusting = (await instance({ RATE_LIMIT_IP_PER_MINUTE: '1', TRUST_PROXY: 'false' })).app;
    expect((await postJson(untrusting, '/api/event', pageView(), fromIp('198.51.100.3'))).status).toBe(202);
    expect((await postJson(untrusting, '/api/event', pageView(), fromIp('198.51.100.4'))).status).toBe(429);
  });

  it('per site: counts events, not requests; other sites are not held back', async () => {
    await awayFromWindowEdge();
    const { app } = await instance({ RATE_LIMIT_SITE_PER_MINUTE: '5' });
    const batch = (siteId: string, n: number) => ({ events: Array.from({ length: n }, () => pageView({ siteId })) });
    expect((await postJson(app, '/api/events', batch('limited_site', 3))).status).toBe(202);
    const over = await postJson(app, '/api/events', batch('limited_site', 3));
    expect(over.status).toBe(429);
    expect((await jsonOf(over)).message).toBe('Too many requests from this site; retry later');
    expect((await postJson(app, '/api/events', batch('other_site', 5))).status).toBe(202);
    // The refused batch counted nothing, so two more events still fit.
    expect((await postJson(app, '/api/events', batch('limited_site', 2))).status).toBe(202);
    expect((await postJson(app, '/api/event', pageView({ siteId: 'limited_site' }))).status).toBe(429);

    const keys = await keysMatching(`${stack.prefix}:ratelimit:site:*`);
    expect(keys.length).toBeGreaterThan(0); // under the queue prefix's hash tag, so one Redis Cluster slot
    for (const key of keys) expect(key.startsWith(`${stack.prefix}:`)).toBe(true);
  });

  it('fails open, fast, when Redis is down or hangs; ingestion still answers', async () => {
    const silent = createServer(() => {}); // accepts connections, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      for (const url of ['redis://127.0.0.1:1', `redis://127.0.0.1:${port}`]) {
        const { app, logs } = await instance({ RATE_LIMIT_IP_PER_MINUTE: '1', RATE_LIMIT_SITE_PER_MINUTE: '1' }, url);
        for (let i = 0; i < 3; i++) {
          const started = Date.now();
          const response = await postJson(app, '/api/event', pageView(), fromIp('198.51.100.9'));
          expect(response.status).toBe(202);
          expect(Date.now() - started).toBeLessThan(1_500);
        }
        // One warning, not one per request.
        expect(logs.lines.filter((line) => line.msg.startsWith('rate limiter unavailable'))).toHaveLength(1);
      }
    } finally {
      silent.close();
    }
  });

  it('is off at 0 (the default): no limiter, no Redis round trip', async () => {
    const { app } = await instance({});
    for (let i = 0; i < 20; i++) {
      expect((await postJson(app, '/api/event', pageView(), fromIp('198.51.100.10'))).status).toBe(202);
    }
    const keys = await keysMatching(`${stack.prefix}:ratelimit:ip:198.51.100.10:*`);
    expect(keys).toEqual([]);
  });
});

describe('configuration', () => {
  it('defaults: stats open, limits off, socket IP, bots filtered, cookie visitor ids, raw events kept', () => {
    const config = loadEnv({});
    expect(config).toMatchObject({
      STATS_API_KEYS: [],
      RATE_LIMIT_IP_PER_MINUTE: 0,
      RATE_LIMIT_SITE_PER_MINUTE: 0,
      TRUST_PROXY: 0,
      BOT_FILTER: true,
      VISITOR_ID_MODE: 'cookie',
      RAW_RETENTION_DAYS: 0,
    });
  });

  it.each([
    ['true', Number.POSITIVE_INFINITY],
    ['false', 0],
    ['2', 2],
  ])('TRUST_PROXY=%s', (value, hops) => {
    expect(loadEnv({ TRUST_PROXY: value }).TRUST_PROXY).toBe(hops);
  });

  it.each([
    ['TRUST_PROXY', 'maybe'],
    ['RATE_LIMIT_IP_PER_MINUTE', '-1'],
    ['RATE_LIMIT_SITE_PER_MINUTE', 'lots'],
    ['VISITOR_ID_MODE', 'fingerprint'],
    ['RAW_RETENTION_DAYS', '1.5'],
    ['BOT_FILTER', 'sometimes'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadEnv({ [name]: value })).toThrow(new RegExp(`${name}:`));
  });
});

describe('client IP and TRUST_PROXY', () => {
  function appFor(hops: number) {
    return new Hono().get('/', (c) => c.text(clientIp(c, hops)));
  }
  const ask = async (hops: number, forwarded?: string) => {
    const headers: Record<string, string> = forwarded === undefined ? {} : { 'X-Forwarded-For': forwarded };
    return (await appFor(hops).request('/', { headers })).text();
  };

  it('ignores X-Forwarded-For unless trusted, then reads it from the right by hops', async () => {
    expect(await ask(0, '203.0.113.1')).toBe('unknown'); // no socket in app.request(), and the header is not believed
    expect(await ask(1, '203.0.113.66, 203.0.113.1')).toBe('203.0.113.1');
    expect(await ask(2, '203.0.113.66, 203.0.113.1, 10.0.0.2')).toBe('203.0.113.1');
    expect(await ask(Number.POSITIVE_INFINITY, '203.0.113.66, 203.0.113.1, 10.0.0.2')).toBe('203.0.113.66');
    expect(await ask(5, '203.0.113.1')).toBe('203.0.113.1');
    expect(await ask(1, '')).toBe('unknown');
    expect(await ask(1, `${'9'.repeat(500)}`)).toHaveLength(64);
  });

  it('uses the socket address on a real server', async () => {
    const server = serve({ fetch: appFor(0).fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const text = await (
        await fetch(`http://127.0.0.1:${port}/`, { headers: { 'X-Forwarded-For': '1.2.3.4' } })
      ).text();
      expect(text).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    } finally {
      server.close();
    }
  });
});

describe('no internals in responses', () => {
  it('a failing stats database answers the generic 500 and logs the cause', async () => {
    const secret = 'password=hunter2 at Object.readStats (/srv/tally/src/db/stats-queries.ts:42:7)';
    const broken = new Proxy(
      {},
      {
        get: () => () => {
          throw new TypeError(secret);
        },
      },
    ) as unknown as Database;
    const logs = recordingLogger();
    const app = createApp({
      statsDb: broken,
      pingDatabase: async () => {},
      queue: {
        enqueueEvents: async () => {},
        counts: async () => ({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, total: 0 }),
        ping: async () => {},
        close: async () => {},
      },
      config: testConfig(),
      logger: logs.logger,
    });
    const response = await app.request('/api/stats?siteId=s&date=2024-11-14');
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      statusCode: 500,
      message: 'Internal server error',
      error: 'Internal Server Error',
    });
    expect(text).not.toMatch(/hunter2|stats-queries|TypeError|at /);
    expect(logs.lines.some((line) => line.msg === 'request failed')).toBe(true);
  });

  it('a malformed body is described, not echoed with parser internals', async () => {
    const app = createApp({
      statsDb: {} as Database,
      pingDatabase: async () => {},
      queue: {
        enqueueEvents: async () => {},
        counts: async () => ({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, total: 0 }),
        ping: async () => {},
        close: async () => {},
      },
      config: testConfig(),
      logger: silentLogger,
    });
    const response = await postJson(app, '/api/event', '{"siteId": unquoted-secret}');
    expect(await jsonOf(response)).toEqual({
      statusCode: 400,
      message: ['body must be valid JSON'],
      error: 'Bad Request',
    });
  });
});
