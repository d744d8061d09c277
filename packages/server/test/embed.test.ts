/**
 * Tally embedded in a host app (SPEC §14): `createTally()` mounted under a
 * path of the host's choosing serves the tracker and the collect endpoints
 * first-party, counts exactly as the server does, and takes either settings
 * or the host's own PostgreSQL pool and Redis client (which it leaves open).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createTally } from '../src/index.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  pageView,
  silentLogger,
  TEST_REDIS_URL,
  type TestDatabase,
  uniqueQueuePrefix,
} from './support.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDatabase(): Promise<{ database: TestDatabase; prefix: string }> {
  const database = await createTestDatabase();
  const prefix = uniqueQueuePrefix();
  cleanups.push(
    () => database.drop(),
    () => deleteQueueKeys(prefix),
  );
  return { database, prefix };
}

const postEvents = (app: { request: Hono['request'] } | Hono, path: string, events: unknown[]) =>
  app.request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ events }),
  });

async function statsOf(app: Hono, path: string) {
  return vi.waitFor(
    async () => {
      const response = await app.request(path);
      expect(response.status).toBe(200);
      return (await response.json()) as { totalViews: number; uniqueUsers: number };
    },
    { timeout: 20_000, interval: 50 },
  );
}

describe('createTally mounted in a host Hono app', () => {
  it('serves the tracker and collection under the host path, and counts exactly', async () => {
    const { database, prefix } = await freshDatabase();
    const tally = await createTally({
      settings: { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, BOT_FILTER: 'false' },
      logger: silentLogger,
    });
    cleanups.push(() => tally.close());
    await tally.ready();
    tally.startWorker();

    const host = new Hono();
    host.get('/', (c) => c.html('<h1>the host page</h1>'));
    host.route('/_t', tally.app);

    expect(await (await host.request('/')).text()).toContain('the host page');
    const script = await host.request('/_t/s.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    // Nothing under names block lists key on, and the operator pages are off in a host app.
    expect((await host.request('/_t/tally.js')).status).toBe(404);
    expect((await host.request('/_t/api')).status).toBe(404);

    const events = [pageView({ siteId: 'host_site', path: '/' }), pageView({ siteId: 'host_site', path: '/pricing' })];
    const accepted = await postEvents(host, '/_t/api/events', events);
    expect(accepted.status).toBe(202);
    const { eventIds } = (await accepted.json()) as { eventIds: string[] };
    // A resend of the same ids (a retry) counts nothing more.
    const resend = events.map((event, index) => ({ ...event, eventId: eventIds[index] }));
    expect((await postEvents(host, '/_t/api/events', resend)).status).toBe(202);

    const stats = await statsOf(host, '/_t/api/stats?siteId=host_site&date=2024-11-14');
    expect(stats.totalViews).toBe(2);
    await tally.services.queue.counts().then((counts) => expect(counts.failed).toBe(0));
  });

  it('uses the host’s own pool and Redis client, and leaves them open on close', async () => {
    const { database, prefix } = await freshDatabase();
    const pool = new pg.Pool({ connectionString: database.url, max: 4 });
    // As a host app's pool should: `pool.end()` resolves before its clients' connections have closed, and
    // the database dropped right after terminates them, which the pool reports as an error.
    pool.on('error', () => {});
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    cleanups.push(
      () => pool.end(),
      async () => redis.quit(),
    );
    const tally = await createTally({
      db: pool,
      redis,
      settings: { QUEUE_PREFIX: prefix, BOT_FILTER: 'false' },
      logger: silentLogger,
      basePath: '/analytics-proxy/_t',
    });
    await tally.ready();
    tally.startWorker();

    // `fetch` serves full request paths under basePath, as a framework's route handler hands them over.
    const response = await tally.fetch(
      new Request('http://host.example/analytics-proxy/_t/api/event', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(pageView({ siteId: 'pool_site' })),
      }),
    );
    expect(response.status).toBe(202);
    const stats = await vi.waitFor(
      async () => {
        const answer = await tally.fetch(
          new Request('http://host.example/analytics-proxy/_t/api/stats?siteId=pool_site&date=2024-11-14'),
        );
        expect(answer.status).toBe(200);
        return (await answer.json()) as { totalViews: number };
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(stats.totalViews).toBe(1);

    await tally.close();
    expect((await pool.query('select count(*)::int as n from raw_events')).rows).toEqual([{ n: 1 }]);
    expect(await redis.ping()).toBe('PONG');
  });

  it('runs on the embedded default when given no database and no Redis', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tally-embed-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const tally = await createTally({
      settings: { TALLY_DATA_DIR: dataDir, BOT_FILTER: 'false' },
      logger: silentLogger,
    });
    cleanups.push(() => tally.close());
    tally.startWorker();
    const host = new Hono().route('/_t', tally.app);
    expect((await postEvents(host, '/_t/api/events', [pageView({ siteId: 'embedded_site' })])).status).toBe(202);
    expect((await statsOf(host, '/_t/api/stats?siteId=embedded_site&date=2024-11-14')).totalViews).toBe(1);
  });

  it('refuses bad settings by name, and half a pair of clients', async () => {
    await expect(createTally({ settings: { WORKER_CONCURRENCY: 'many' } })).rejects.toThrow(/WORKER_CONCURRENCY/);
    await expect(createTally({ basePath: 'no-slash' })).rejects.toThrow(/basePath must be a path/);
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 1 });
    cleanups.push(() => pool.end());
    await expect(createTally({ db: pool, logger: silentLogger })).rejects.toThrow(
      /both a PostgreSQL pool and a Redis client/,
    );
  });
});
