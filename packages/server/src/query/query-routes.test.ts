/**
 * `POST /api/query` through the answer cache (`answer-cache.ts`), on a real
 * stack: repeats come from memory, a fold of the site (and only of that site)
 * makes the next answer fresh, and what may never be cached is not.
 * "Behind the cache's back" below is an UPDATE no fold made: an answer that
 * does not see it came from memory.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';

const DAY = ['2024-11-14', '2024-11-14'];
const TOTALS = { metrics: ['pageviews', 'events'], dateRange: DAY };

async function ask(stack: TestStack, body: unknown, headers: Record<string, string> = {}) {
  const response = await postJson(stack.app, '/api/query', body, headers);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return { cache: response.headers.get('x-tally-cache'), text };
}

const metricsOf = (text: string) => (JSON.parse(text) as { results: { metrics: number[] }[] }).results[0]?.metrics;

/** Views of a site's day, changed in the rollups without a fold. */
async function changeBehindTheCache(stack: TestStack, siteId: string, pageviews: number) {
  await stack.query(
    "UPDATE site_daily_rollups SET pageviews = $2 WHERE site_id = $1 AND dimension = '' AND date = '2024-11-14'",
    [siteId, pageviews],
  );
}

describe('POST /api/query through the answer cache', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { QUERY_CACHE_MS: '60000', ADMIN_API_KEY: 'admin-secret' } });
    for (const siteId of ['cq', 'other']) {
      expect((await postJson(stack.app, '/api/event', pageView({ siteId }))).status).toBe(202);
    }
    await stack.drain();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers a repeat from memory, in either format and whatever the key order', async () => {
    const first = await ask(stack, { siteId: 'cq', ...TOTALS });
    expect(first).toMatchObject({ cache: 'miss' });
    expect(metricsOf(first.text)).toEqual([1, 1]);
    await changeBehindTheCache(stack, 'cq', 7);

    expect(await ask(stack, { siteId: 'cq', ...TOTALS })).toEqual({ cache: 'hit', text: first.text });
    // The same request with its keys in another order, and the same day asked as a range with defaults spelt out.
    const reordered = { dateRange: DAY, metrics: ['pageviews', 'events'], siteId: 'cq', offset: 0 };
    expect(await ask(stack, reordered)).toEqual({ cache: 'hit', text: first.text });
    // CSV is written from the same entry: the views no fold made are not in it.
    expect(await ask(stack, { siteId: 'cq', ...TOTALS }, { accept: 'text/csv' })).toEqual({
      cache: 'hit',
      text: 'pageviews,events\r\n1,1\r\n',
    });
    expect(await ask(stack, { siteId: 'cq', ...TOTALS, format: 'csv' })).toMatchObject({ cache: 'hit' });
    // Another question is another entry.
    expect(metricsOf((await ask(stack, { siteId: 'cq', ...TOTALS, metrics: ['pageviews'] })).text)).toEqual([7]);
  });

  it('Cache-Control: no-cache computes the answer and refreshes the entry', async () => {
    await ask(stack, { siteId: 'cq', ...TOTALS });
    await changeBehindTheCache(stack, 'cq', 8);
    expect(metricsOf((await ask(stack, { siteId: 'cq', ...TOTALS })).text)).not.toEqual([8, 1]);
    const fresh = await ask(stack, { siteId: 'cq', ...TOTALS }, { 'cache-control': 'no-cache' });
    expect(fresh.cache).toBe('miss');
    expect(metricsOf(fresh.text)).toEqual([8, 1]);
    expect(await ask(stack, { siteId: 'cq', ...TOTALS })).toEqual({ cache: 'hit', text: fresh.text });
  });

  it("drops a site's answers when a fold of that site commits, and only that site's", async () => {
    await ask(stack, { siteId: 'cq', ...TOTALS });
    await ask(stack, { siteId: 'other', ...TOTALS });
    expect(await ask(stack, { siteId: 'cq', ...TOTALS })).toMatchObject({ cache: 'hit' });
    await changeBehindTheCache(stack, 'cq', 20);

    // Another site's fold leaves this site's answer in memory.
    await postJson(stack.app, '/api/event', pageView({ siteId: 'other', path: '/2' }));
    await stack.drain();
    expect(await ask(stack, { siteId: 'cq', ...TOTALS })).toMatchObject({ cache: 'hit' });
    const other = await ask(stack, { siteId: 'other', ...TOTALS });
    expect(other.cache).toBe('miss');
    expect(metricsOf(other.text)).toEqual([2, 2]);

    // This site's fold: the next answer is computed, with the new event (and the change behind the cache).
    await postJson(stack.app, '/api/event', pageView({ siteId: 'cq', path: '/2' }));
    await stack.drain();
    const after = await ask(stack, { siteId: 'cq', ...TOTALS });
    expect(after.cache).toBe('miss');
    expect(metricsOf(after.text)).toEqual([21, 2]);
  });

  it('forgets a deleted site', async () => {
    await postJson(stack.app, '/api/event', pageView({ siteId: 'gone' }));
    await stack.drain();
    await ask(stack, { siteId: 'gone', ...TOTALS });
    expect(await ask(stack, { siteId: 'gone', ...TOTALS })).toMatchObject({ cache: 'hit' });
    const deleted = await stack.app.request('/api/sites/gone', {
      method: 'DELETE',
      headers: { authorization: 'Bearer admin-secret' },
    });
    expect(deleted.status).toBe(204);
    const after = await ask(stack, { siteId: 'gone', ...TOTALS });
    expect(after.cache).toBe('miss');
    expect(metricsOf(after.text)).toBeUndefined();
  });

  it('never caches realtime', async () => {
    const realtime = { siteId: 'cq', metrics: ['pageviews'], dateRange: 'realtime' };
    expect((await ask(stack, realtime)).cache).toBe('miss');
    expect((await ask(stack, realtime)).cache).toBe('miss');
    await postJson(stack.app, '/api/event', pageView({ siteId: 'cq', timestamp: new Date().toISOString() }));
    await stack.drain();
    expect(metricsOf((await ask(stack, realtime)).text)).toEqual([1]);
  });

  it('keeps out an answer read before a fold that committed while it was computed', async () => {
    const body = { siteId: 'cq', ...TOTALS, metrics: ['events'] };
    const locker = new pg.Client({ connectionString: stack.testDatabase.url });
    await locker.connect();
    try {
      // The request takes its mark, then waits for the site row behind this lock.
      stack.services.queryCache.invalidateSites(['cq']); // so that the request reads the site's facts
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE sites IN ACCESS EXCLUSIVE MODE');
      const pending = ask(stack, body);
      for (let i = 0; ; i++) {
        const [waiting] = await stack.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%AS first_day%'",
        );
        if (waiting?.n === 1) break;
        if (i > 200) throw new Error('the query never waited for the lock');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // What this process's worker does when a fold of the site commits.
      stack.services.queryCache.invalidateSites(['cq']);
      await locker.query('COMMIT');
      expect((await pending).cache).toBe('miss');
    } finally {
      await locker.end();
    }
    expect((await ask(stack, body)).cache).toBe('miss'); // nothing was stored
    expect((await ask(stack, body)).cache).toBe('hit');
  });

  it('stays within its bounds under many distinct queries of one site', async () => {
    stack.services.queryCache.invalidateSites(['other', 'gone']); // so that every entry is this site's
    for (let limit = 1; limit <= 600; limit++) await ask(stack, { siteId: 'cq', ...TOTALS, limit });
    const { entries, bytes } = stack.services.queryCache.size;
    expect(entries).toBeLessThanOrEqual(500); // the per-site bound
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect((await ask(stack, { siteId: 'cq', ...TOTALS, limit: 600 })).cache).toBe('hit'); // the newest stay
    expect((await ask(stack, { siteId: 'cq', ...TOTALS, limit: 1 })).cache).toBe('miss');
  });
});

describe("a site's own facts, cached beside its answers", () => {
  let stack: TestStack;
  const KEY = { authorization: 'Bearer stats-key' };
  const ADMIN = { authorization: 'Bearer admin-secret', 'content-type': 'application/json' };
  const putSite = (settings: unknown, siteId = 'pub') =>
    stack.app.request(`/api/sites/${siteId}`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(settings) });
  const askOpen = (body: unknown) => postJson(stack.app, '/api/query', body);
  beforeAll(async () => {
    stack = await startTestStack({
      env: { QUERY_CACHE_MS: '60000', ADMIN_API_KEY: 'admin-secret', STATS_API_KEYS: 'stats-key' },
    });
    expect((await postJson(stack.app, '/api/event', pageView({ siteId: 'pub' }))).status).toBe(202);
    await stack.drain();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("plans a new question with the site's facts from memory, read again once this process changes the site", async () => {
    let limit = 0;
    // Each call is a new question (another limit), so its answer is computed: only the site's facts can come from memory.
    const zoneOf = async (headers: Record<string, string> = {}) => {
      limit += 1;
      const body = { siteId: 'pub', metrics: ['pageviews'], dateRange: 'today', limit };
      return JSON.parse(await (await postJson(stack.app, '/api/query', body, { ...KEY, ...headers })).text()).meta
        .timeZone;
    };
    expect(await zoneOf()).toBe('UTC');
    await stack.query("UPDATE sites SET time_zone = 'Asia/Tokyo' WHERE site_id = 'pub'");
    expect(await zoneOf()).toBe('UTC');
    // Any change through this process's API drops what it holds about the site.
    expect((await putSite({ public: false })).status).toBe(200);
    expect(await zoneOf()).toBe('Asia/Tokyo');
    expect((await putSite({ timeZone: 'Pacific/Kiritimati' })).status).toBe(200);
    expect(await zoneOf()).toBe('Pacific/Kiritimati');
    // Cache-Control: no-cache asks for a computed answer: the site's facts are read again too.
    await stack.query("UPDATE sites SET time_zone = 'Europe/Paris' WHERE site_id = 'pub'");
    expect(await zoneOf()).toBe('Pacific/Kiritimati');
    expect(await zoneOf({ 'cache-control': 'no-cache' })).toBe('Europe/Paris');
    expect(await zoneOf()).toBe('Europe/Paris');
  });

  it('leaves public access to the access check, which reads the site every time', async () => {
    // A site of its own: the zones changed above re-fold 'pub' in the background, and a re-fold that
    // commits drops the site's answers, so a repeat there may be computed again.
    const body = { siteId: 'open', ...TOTALS };
    expect((await putSite({ public: true }, 'open')).status).toBe(201);
    expect((await askOpen(body)).status).toBe(200);
    expect((await askOpen(body)).headers.get('x-tally-cache')).toBe('hit');
    await stack.query("UPDATE sites SET public = false WHERE site_id = 'open'");
    expect((await askOpen(body)).status).toBe(401);
  });
});

describe('QUERY_CACHE_MS=0', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, env: { QUERY_CACHE_MS: '0' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('computes every answer', async () => {
    const body = { siteId: 'off', ...TOTALS };
    expect(metricsOf((await ask(stack, body)).text)).toBeUndefined();
    await stack.query(
      "INSERT INTO site_daily_rollups (site_id, date, dimension, value, pageviews, events) VALUES ('off', '2024-11-14', '', '', 3, 3)",
    );
    const again = await ask(stack, body);
    expect(again.cache).toBe('miss');
    expect(metricsOf(again.text)).toEqual([3, 3]);
    expect(stack.services.queryCache.size.entries).toBe(0);
  });
});
