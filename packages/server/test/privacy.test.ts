/**
 * Privacy (issue 5): bots dropped at ingest and counted by reason; cookieless
 * visitor ids from a daily salt that is shared, rotated and deleted; raw event
 * retention that leaves the aggregates; the Redis eviction-policy warning.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { connectPostgres } from '../src/db/client.js';
import { openEmbeddedDatabase } from '../src/db/embedded.js';
import { postgresSaltStore } from '../src/ingest/salts.js';
import { hashVisitorId } from '../src/ingest/visitor.js';
import { readEvictionPolicy, warnUnlessNoEviction } from '../src/queue/redis-checks.js';
import { deleteExpiredRawEvents, retentionCutoff, startRetention } from '../src/worker/retention.js';
import {
  jsonOf,
  pageView,
  postJson,
  recordingLogger,
  silentLogger,
  startTcpProxy,
  startTestStack,
  TEST_REDIS_URL,
  type TestStack,
  testConfig,
} from './support.js';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DAY_MS = 86_400_000;
const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();

describe('bots (BOT_FILTER)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, env: { BOT_FILTER: 'true' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const waiting = async () => (await stack.queue.counts()).waiting;
  async function metric(name: string) {
    const text = await (await stack.app.request('/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('answers bots exactly like visitors (202, same receipt) but queues nothing, and counts them by reason', async () => {
    const before = await waiting();
    const filtered = 'tally_ingest_filtered_events_total{reason="user_agent"}';
    const accepted = 'tally_ingest_events_total{outcome="accepted"}';
    const acceptedBefore = await metric(accepted);

    const crawler = await postJson(stack.app, '/api/event', pageView(), {
      'User-Agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    });
    expect(crawler.status).toBe(202);
    const receipt = await jsonOf(crawler);
    expect(receipt).toEqual({ success: true, eventId: expect.any(String), visitorId: expect.any(String) });

    const headless = await postJson(
      stack.app,
      '/api/events',
      { events: [pageView(), pageView({ path: '/b' }), { nope: 1 }] },
      {
        'User-Agent':
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36',
      },
    );
    expect(headless.status).toBe(202);
    expect(await jsonOf(headless)).toMatchObject({ success: true, accepted: 2, rejected: [{ index: 2 }] });

    expect(await waiting()).toBe(before);
    expect(await metric(filtered)).toBe(3);
    expect(await metric(accepted)).toBe(acceptedBefore);
  });

  it('still validates bot traffic like any other (a bot learns nothing from the status)', async () => {
    const response = await postJson(stack.app, '/api/event', { siteId: '' }, { 'User-Agent': 'GPTBot/1.0' });
    expect(response.status).toBe(400);
  });

  it.each([
    ['a desktop browser', BROWSER],
    ['curl (the original design workflow)', 'curl/8.5.0'],
    ["Node's fetch (server-side events)", 'node'],
    ['python-requests', 'python-requests/2.32.3'],
    ['no User-Agent at all', ''],
  ])('lets %s through', async (_what, agent) => {
    const before = await waiting();
    const headers: Record<string, string> = agent ? { 'User-Agent': agent } : {};
    expect((await postJson(stack.app, '/api/event', pageView(), headers)).status).toBe(202);
    expect(await waiting()).toBe(before + 1);
  });
});

describe('cookieless visitor ids (VISITOR_ID_MODE=cookieless)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { VISITOR_ID_MODE: 'cookieless', TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const visit = async (ip: string, agent: string, event: Record<string, unknown> = {}, cookie?: string) => {
    const headers: Record<string, string> = { 'X-Forwarded-For': ip, 'User-Agent': agent };
    if (cookie) headers.Cookie = cookie;
    const response = await postJson(
      stack.app,
      '/api/event',
      // Stamped now: an event is hashed with its own day's salt, and older days are other visitors.
      pageView({ siteId: 'cookieless_site', timestamp: new Date().toISOString(), ...event }),
      headers,
    );
    expect(response.status).toBe(202);
    expect(response.headers.get('set-cookie')).toBeNull();
    return (await jsonOf(response)).visitorId as string;
  };

  it('hashes site, IP and User-Agent with the day salt: stable within the day, no cookie, client ids ignored', async () => {
    const first = await visit('203.0.113.7', BROWSER, { timestamp: daysAgo(0) });
    expect(first).toMatch(UUID_V8);
    expect(await visit('203.0.113.7', BROWSER, { path: '/other' })).toBe(first);
    // What the client claims does not matter: no tracking id survives from the browser.
    expect(
      await visit(
        '203.0.113.7',
        BROWSER,
        { visitorId: '11111111-2222-4333-8444-555555555555' },
        'visitor_id=22222222-3333-4444-8555-666666666666',
      ),
    ).toBe(first);
    expect(await visit('203.0.113.8', BROWSER)).not.toBe(first);
    expect(await visit('203.0.113.7', `${BROWSER} Edg/131.0`)).not.toBe(first);
    expect(await visit('203.0.113.7', BROWSER, { siteId: 'another_site' })).not.toBe(first);

    // A batch from the same visitor is the same visitor.
    const batch = await postJson(
      stack.app,
      '/api/events',
      {
        events: [
          pageView({ siteId: 'cookieless_site', timestamp: new Date().toISOString() }),
          pageView({ siteId: 'cookieless_site', path: '/x', timestamp: new Date().toISOString() }),
        ],
      },
      { 'X-Forwarded-For': '203.0.113.7', 'User-Agent': BROWSER },
    );
    expect((await jsonOf(batch)).visitorId).toBe(first);
    expect(batch.headers.get('set-cookie')).toBeNull();
  });

  it('stores the hash, never the IP, and counts distinct visitors', async () => {
    const date = today();
    await visit('198.51.100.77', BROWSER, { siteId: 'counted_site', timestamp: new Date().toISOString() });
    await visit('198.51.100.77', BROWSER, { siteId: 'counted_site', timestamp: new Date().toISOString(), path: '/2' });
    await visit('198.51.100.78', BROWSER, { siteId: 'counted_site', timestamp: new Date().toISOString() });
    await stack.drain();
    const stats = await jsonOf(await stack.app.request(`/api/stats?siteId=counted_site&date=${date}`));
    expect(stats).toMatchObject({ totalViews: 3, uniqueUsers: 2 });

    const [leak] = await stack.query<{ n: string }>(
      `SELECT count(*) AS n FROM raw_events r WHERE row_to_json(r)::text LIKE '%198.51.100.7%' OR row_to_json(r)::text LIKE '%203.0.113%'`,
    );
    expect(Number(leak?.n)).toBe(0);
    const salts = await stack.query<{ day: string }>(`SELECT to_char(day, 'YYYY-MM-DD') AS day FROM daily_salts`);
    expect(salts.map((s) => s.day)).toEqual([date]);
  });

  it('rotates the salt each UTC day, shares it between instances, and deletes salts older than yesterday', async () => {
    const start = Date.parse('2030-01-10T12:00:00Z');
    const a = postgresSaltStore(stack.database.db);
    const b = postgresSaltStore(stack.database.db);
    const day1 = await a.current(start);
    expect(await b.current(start + 3_600_000)).toEqual(day1); // another instance, same day: same salt
    expect(a.current(start + 3_600_000)).toBe(day1); // and from memory, with no round trip
    const day2 = await a.current(start + DAY_MS);
    const day3 = await b.current(start + 2 * DAY_MS);
    expect(new Set([day1.toString('hex'), day2.toString('hex'), day3.toString('hex')]).size).toBe(3);
    expect(hashVisitorId(day1, 's', '203.0.113.7', BROWSER)).not.toBe(hashVisitorId(day2, 's', '203.0.113.7', BROWSER));

    const days = await stack.query<{ day: string }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM daily_salts WHERE day >= '2030-01-01' ORDER BY day`,
    );
    expect(days.map((d) => d.day)).toEqual(['2030-01-11', '2030-01-12']);
    // Deleting older salts also removed the real "today" salt of the test above: it is in the past from 2030.
    const older = await stack.query(`SELECT day FROM daily_salts WHERE day < '2030-01-11'`);
    expect(older).toEqual([]);
  });
});

describe('cookieless visitor ids with the database down', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 503 with Retry-After when no salt can be had, and carries on with the last salt once it has one', async () => {
    const proxy = await startTcpProxy();
    const viaProxy = connectPostgres(proxy.urlFor(stack.testDatabase.url), 2);
    try {
      const config = testConfig({ QUEUE_PREFIX: stack.prefix, VISITOR_ID_MODE: 'cookieless' });
      const app = createApp({
        statsDb: viaProxy.db,
        pingDatabase: viaProxy.ping,
        queue: stack.queue,
        config,
        logger: silentLogger,
      });
      proxy.cut();
      const refused = await postJson(app, '/api/event', pageView(), { 'User-Agent': BROWSER });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await jsonOf(refused)).error).toBe('Service Unavailable');

      proxy.restore();
      const store = postgresSaltStore(viaProxy.db);
      const start = Date.parse('2031-03-01T23:00:00Z');
      const before = await store.current(start);
      proxy.cut();
      // The next day starts while the database is down: yesterday's salt, no error.
      expect(await store.current(start + 2 * 3_600_000)).toEqual(before);
    } finally {
      await proxy.close();
      await viaProxy.close().catch(() => {});
    }
  });
});

describe('raw event retention (RAW_RETENTION_DAYS)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function seed(siteId: string) {
    const events = [40, 31, 29, 1, 0].map((days) => pageView({ siteId, timestamp: daysAgo(days), path: `/d${days}` }));
    expect((await postJson(stack.app, '/api/events', { events })).status).toBe(202);
    await stack.drain();
  }
  const rawCount = async (siteId: string) =>
    Number(
      (await stack.query<{ n: string }>('SELECT count(*) AS n FROM raw_events WHERE site_id = $1', [siteId]))[0]?.n,
    );
  const aggregateViews = async (siteId: string) =>
    Number(
      (
        await stack.query<{ n: string }>('SELECT sum(total_views) AS n FROM site_daily_aggregates WHERE site_id = $1', [
          siteId,
        ])
      )[0]?.n,
    );

  it('deletes raw events of days before the cutoff and keeps every aggregate', async () => {
    await seed('retained_site');
    expect(await rawCount('retained_site')).toBe(5);
    const deleted = await deleteExpiredRawEvents(stack.database.db, retentionCutoff(30));
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await rawCount('retained_site')).toBe(3);
    expect(await aggregateViews('retained_site')).toBe(5);
    const oldDay = daysAgo(40).slice(0, 10);
    const stats = await jsonOf(await stack.app.request(`/api/stats?siteId=retained_site&date=${oldDay}`));
    expect(stats).toMatchObject({ totalViews: 1, uniqueUsers: 1 });
  });

  it('leaves the work to whichever process holds the advisory lock', async () => {
    await seed('locked_site');
    const holder = new pg.Client({ connectionString: stack.testDatabase.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7271012)');
      expect(await deleteExpiredRawEvents(stack.database.db, retentionCutoff(30))).toBeUndefined();
      expect(await rawCount('locked_site')).toBe(5);
    } finally {
      await holder.end();
    }
    expect(await deleteExpiredRawEvents(stack.database.db, retentionCutoff(30))).toBe(2);
  });

  it('runs on a timer in the worker and logs what it deleted', async () => {
    await seed('timer_site');
    const { logger, lines } = recordingLogger();
    logger.level = 'info';
    const retention = startRetention({ db: stack.database.db, days: 30, logger, intervalMs: 60_000 });
    const deadline = Date.now() + 10_000;
    while ((await rawCount('timer_site')) !== 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await retention.stop();
    expect(await rawCount('timer_site')).toBe(3);
    expect(lines.some((line) => line.msg.startsWith('raw event retention'))).toBe(true);
  });

  it('works on the embedded database too (PGlite)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-retention-'));
    const embedded = await openEmbeddedDatabase(dir);
    try {
      await embedded.db.execute(
        sql.raw(`INSERT INTO raw_events (event_id, site_id, event_type, path, event_ts) VALUES
           ('00000000-0000-4000-8000-000000000001', 's', 'page_view', '/', now() - interval '10 days'),
           ('00000000-0000-4000-8000-000000000002', 's', 'page_view', '/', now())`),
      );
      expect(await deleteExpiredRawEvents(embedded.db, retentionCutoff(5))).toBe(1);
    } finally {
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis eviction policy', () => {
  it('warns once at startup unless maxmemory-policy is noeviction', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const original = await readEvictionPolicy(redis);
    try {
      const quiet = recordingLogger();
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await warnUnlessNoEviction(redis, quiet.logger);
      expect(quiet.lines).toEqual([]);

      // Harmless on a shared Redis: with maxmemory 0 nothing is ever evicted, whatever the policy.
      const loud = recordingLogger();
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await warnUnlessNoEviction(redis, loud.logger);
      expect(loud.lines).toHaveLength(1);
      expect(loud.lines[0]?.msg).toContain('maxmemory-policy is allkeys-lru');
    } finally {
      await redis.config('SET', 'maxmemory-policy', original ?? 'noeviction');
      redis.disconnect();
    }
  });
});
