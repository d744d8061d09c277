/**
 * SPEC §12 end to end: a small shop in Europe/Berlin (UTC+1 in November),
 * seeded through the ingest API and the worker so enrichment and visits are
 * real, asked every metric, breakdown, filter operator, comparison, series,
 * CSV, realtime and error through `POST /api/query`, each answer worked out by
 * hand below.
 *
 * Visits (Berlin days):
 * - v1 (iPhone, US) 14th 11:00–11:10 from Google: `/`, `/pricing`, signup {plan: pro} on /pricing — 3 events, 2 views, 600 s
 * - v2 (Windows, DE) 14th 13:00 from Hacker News: `/blog/post` — a bounce
 * - v1 15th 09:00 direct: `/` — a bounce
 * - v2 15th 10:00–10:02 direct: `/`, `/about` — 2 views, 120 s
 * - v3 (Mac, FR) 15th 21:00 utm newsletter/email/weekly: `/blog/post` — a bounce
 * - v4 (Windows, no country) 13th 11:00 direct: `/` — a bounce (the period before)
 * - v5 (Windows, DE) 2023-11-14 direct: `/pricing` — a bounce (a year before)
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealPendingPeriods, sealPeriod } from '../src/query/periods.js';
import { VisitorSketch } from '../src/query/sketches.js';
import { jsonOf, postJson, startTestStack, type TestStack } from './support.js';

const KEY = { authorization: 'Bearer stats-key' };
const ADMIN = { authorization: 'Bearer admin-secret', 'content-type': 'application/json' };
const UA = {
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0',
};
const visitor = (n: number) => `bbbbbbbb-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

const pv = (n: number, path: string, timestamp: string, extra: Record<string, unknown> = {}) => ({
  siteId: 'shop',
  eventType: 'page_view',
  visitorId: visitor(n),
  path,
  timestamp,
  ...extra,
});

const SENDS: [Record<string, string>, Record<string, unknown>[]][] = [
  [
    { 'user-agent': UA.iphone, 'cf-ipcountry': 'US' },
    [
      pv(1, '/', '2024-11-14T10:00:00Z', { referrer: 'https://www.google.com/' }),
      pv(1, '/pricing', '2024-11-14T10:05:00Z'),
      pv(1, '/pricing', '2024-11-14T10:10:00Z', { eventType: 'signup', props: { plan: 'pro' } }),
      pv(1, '/', '2024-11-15T08:00:00Z'),
    ],
  ],
  [
    { 'user-agent': UA.windows, 'cf-ipcountry': 'DE' },
    [
      pv(2, '/blog/post', '2024-11-14T12:00:00Z', { referrer: 'https://news.ycombinator.com/item?id=1' }),
      pv(2, '/', '2024-11-15T09:00:00Z'),
      pv(2, '/about', '2024-11-15T09:02:00Z'),
      pv(5, '/pricing', '2023-11-14T10:00:00Z'),
    ],
  ],
  [
    { 'user-agent': UA.mac, 'cf-ipcountry': 'FR' },
    [
      pv(3, '/blog/post', '2024-11-15T20:00:00Z', {
        utmSource: 'newsletter',
        utmMedium: 'email',
        utmCampaign: 'weekly',
      }),
    ],
  ],
  [{ 'user-agent': UA.windows }, [pv(4, '/', '2024-11-13T10:00:00Z')]],
];

const DAYS = ['2024-11-14', '2024-11-15'];

describe('POST /api/query on a small shop in Europe/Berlin', () => {
  let stack: TestStack;
  const query = async (body: Record<string, unknown>, headers: Record<string, string> = KEY) =>
    postJson(stack.app, '/api/query', { siteId: 'shop', ...body }, headers);
  const answer = async (body: Record<string, unknown>) => {
    const response = await query(body);
    const json = await jsonOf(response);
    expect(response.status, JSON.stringify(json)).toBe(200);
    return json as {
      results: { dimensions: (string | null)[]; metrics: number[]; comparison?: unknown }[];
      meta: Record<string, unknown>;
    };
  };
  const rows = async (body: Record<string, unknown>) =>
    (await answer(body)).results.map((row) => [...row.dimensions, ...row.metrics]);

  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        TRUST_PROXY: '1',
        ADMIN_API_KEY: 'admin-secret',
        STATS_API_KEYS: 'stats-key',
        LATE_EVENT_HOURS: '1000000',
        // Seals below change the tables with no fold, then compare answers: each one must be computed.
        QUERY_CACHE_MS: '0',
      },
    });
    const created = await stack.app.request('/api/sites/shop', {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ timeZone: 'Europe/Berlin' }),
    });
    expect(created.status).toBe(201);
    for (const [headers, events] of SENDS) {
      expect((await postJson(stack.app, '/api/events', { events }, headers)).status).toBe(202);
    }
    await stack.drain();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers every metric over two days, visitors counted once', async () => {
    const { results, meta } = await answer({
      metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'visitDuration', 'viewsPerVisit'],
      dateRange: DAYS,
    });
    // 3 people; 5 visits; 7 views of 8 events; 3 bounces of 5; (600 + 120) / 5 s; 7 / 5 views per visit.
    expect(results).toEqual([{ dimensions: [], metrics: [3, 5, 7, 8, 60, 144, 1.4] }]);
    expect(meta).toEqual({
      metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'visitDuration', 'viewsPerVisit'],
      dimensions: [],
      dateRange: DAYS,
      timeZone: 'Europe/Berlin',
      totalRows: 1,
      approximate: [],
    });
  });

  it('zero-fills a daily series and counts each day exactly', async () => {
    expect(
      await rows({
        metrics: ['visitors', 'events'],
        dateRange: ['2024-11-12', '2024-11-15'],
        dimensions: ['time:day'],
      }),
    ).toEqual([
      ['2024-11-12', 0, 0],
      ['2024-11-13', 1, 1],
      ['2024-11-14', 2, 4],
      ['2024-11-15', 3, 4],
    ]);
  });

  it('buckets hours in the site zone', async () => {
    const hours = await rows({
      metrics: ['pageviews'],
      dateRange: ['2024-11-15', '2024-11-15'],
      dimensions: ['time:hour'],
    });
    expect(hours).toHaveLength(24);
    expect(hours.filter((row) => row[1] !== 0)).toEqual([
      ['2024-11-15T09:00:00+01:00', 1],
      ['2024-11-15T10:00:00+01:00', 2],
      ['2024-11-15T21:00:00+01:00', 1],
    ]);
  });

  it('gives each event its own visit among its visitor’s, when read from raw events', async () => {
    // A filter on an event dimension reads raw events, each with its visit; visitors 1 and 2 have one a day.
    expect(
      await rows({
        metrics: ['events'],
        dateRange: DAYS,
        dimensions: ['entryPage'],
        filters: [['is', 'path', ['/', '/about', '/pricing', '/blog/post']]],
      }),
    ).toEqual([
      ['/', 6],
      ['/blog/post', 2],
    ]);
  });

  it('breaks down by source, visit and event dimensions', async () => {
    expect(
      await rows({ metrics: ['visitors', 'visits', 'bounceRate'], dateRange: DAYS, dimensions: ['source'] }),
    ).toEqual([
      ['Direct / None', 2, 2, 50],
      ['Google', 1, 1, 0],
      ['Hacker News', 1, 1, 100],
      ['newsletter', 1, 1, 100],
    ]);
    expect(await rows({ metrics: ['visits', 'bounceRate'], dateRange: DAYS, dimensions: ['entryPage'] })).toEqual([
      ['/', 3, 33.3],
      ['/blog/post', 2, 100],
    ]);
    expect(await rows({ metrics: ['visits'], dateRange: DAYS, dimensions: ['exitPage'] })).toEqual([
      ['/blog/post', 2],
      ['/', 1],
      ['/about', 1],
      ['/pricing', 1],
    ]);
    expect(await rows({ metrics: ['pageviews', 'events', 'visitors'], dateRange: DAYS, dimensions: ['path'] })).toEqual(
      [
        ['/', 3, 3, 2],
        ['/blog/post', 2, 2, 2],
        ['/about', 1, 1, 1],
        ['/pricing', 1, 2, 1],
      ],
    );
    expect(await rows({ metrics: ['visitors', 'visits'], dateRange: DAYS, dimensions: ['device'] })).toEqual([
      ['desktop', 2, 3],
      ['mobile', 1, 2],
    ]);
    expect(await rows({ metrics: ['visitors'], dateRange: DAYS, dimensions: ['country'] })).toEqual([
      ['DE', 1],
      ['FR', 1],
      ['US', 1],
    ]);
    expect(await rows({ metrics: ['events'], dateRange: DAYS, dimensions: ['props:plan'] })).toEqual([['pro', 1]]);
    expect(await rows({ metrics: ['events'], dateRange: DAYS, dimensions: ['eventType'] })).toEqual([
      ['page_view', 7],
      ['signup', 1],
    ]);
    // Two dimensions (read from raw events and visits): views per day and device, each day's largest first.
    expect(await rows({ metrics: ['pageviews'], dateRange: DAYS, dimensions: ['time:day', 'device'] })).toEqual([
      ['2024-11-14', 'mobile', 2],
      ['2024-11-14', 'desktop', 1],
      ['2024-11-15', 'desktop', 3],
      ['2024-11-15', 'mobile', 1],
    ]);
  });

  it('filters with each operator, and across dimensions', async () => {
    const totals = (filters: unknown[], metrics = ['visitors', 'pageviews']) =>
      rows({ metrics, dateRange: DAYS, filters });
    expect(await totals([['is', 'country', ['DE', 'FR']]])).toEqual([[2, 4]]);
    expect(await totals([['isNot', 'country', ['US']]])).toEqual([[2, 4]]);
    expect(await totals([['contains', 'path', ['blog']]])).toEqual([[2, 2]]);
    expect(await totals([['notContains', 'path', ['pricing']]], ['visitors', 'events'])).toEqual([[3, 6]]);
    expect(
      await totals(
        [
          ['is', 'device', ['desktop']],
          ['contains', 'path', ['/blog']],
        ],
        ['visitors', 'pageviews', 'visits'],
      ),
    ).toEqual([[2, 2, 2]]);
    // An event-level filter with visit metrics: the visits that had such an event.
    expect(
      await rows({
        metrics: ['visitors', 'visits', 'events', 'bounceRate'],
        dateRange: DAYS,
        dimensions: ['source'],
        filters: [['is', 'eventType', ['signup']]],
      }),
    ).toEqual([['Google', 1, 1, 1, 0]]);
  });

  it('orders, pages and counts every row', async () => {
    const { results, meta } = await answer({
      metrics: ['pageviews'],
      dateRange: DAYS,
      dimensions: ['path'],
      limit: 2,
      offset: 1,
    });
    expect(results.map((row) => [...row.dimensions, ...row.metrics])).toEqual([
      ['/blog/post', 2],
      ['/about', 1],
    ]);
    expect(meta.totalRows).toBe(4);
    expect(
      await rows({ metrics: ['pageviews'], dateRange: DAYS, dimensions: ['path'], orderBy: [['path', 'desc']] }),
    ).toEqual([
      ['/pricing', 1],
      ['/blog/post', 2],
      ['/about', 1],
      ['/', 3],
    ]);
  });

  it('compares with the period before and the year before, per row', async () => {
    const bySource = await answer({
      metrics: ['visitors', 'visits', 'bounceRate'],
      dateRange: DAYS,
      dimensions: ['source'],
      compare: 'previousPeriod',
      limit: 2,
    });
    expect(bySource.meta.comparison).toEqual({ dateRange: ['2024-11-12', '2024-11-13'] });
    expect(bySource.results).toEqual([
      {
        dimensions: ['Direct / None'],
        metrics: [2, 2, 50],
        comparison: { metrics: [1, 1, 100], change: [100, 100, -50] },
      },
      { dimensions: ['Google'], metrics: [1, 1, 0], comparison: { metrics: [0, 0, 0], change: [null, null, 0] } },
    ]);
    const series = await answer({
      metrics: ['events'],
      dateRange: DAYS,
      dimensions: ['time:day'],
      compare: 'previousPeriod',
    });
    expect(series.results).toEqual([
      { dimensions: ['2024-11-14'], metrics: [4], comparison: { metrics: [0], change: [null] } },
      { dimensions: ['2024-11-15'], metrics: [4], comparison: { metrics: [1], change: [300] } },
    ]);
    const yearAgo = await answer({
      metrics: ['pageviews'],
      dateRange: ['2024-11-14', '2024-11-14'],
      compare: 'yearOverYear',
    });
    expect(yearAgo.results).toEqual([{ dimensions: [], metrics: [3], comparison: { metrics: [1], change: [200] } }]);
    expect(yearAgo.meta.comparison).toEqual({ dateRange: ['2023-11-14', '2023-11-14'] });
  });

  it('streams the same rows as CSV for Accept: text/csv or "format": "csv"', async () => {
    const body = { metrics: ['pageviews', 'visitors'], dateRange: DAYS, dimensions: ['path'] };
    const expected = 'path,pageviews,visitors\r\n/,3,2\r\n/blog/post,2,2\r\n/about,1,1\r\n/pricing,1,1\r\n';
    const byHeader = await query(body, { ...KEY, accept: 'text/csv' });
    expect(byHeader.status).toBe(200);
    expect(byHeader.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await byHeader.text()).toBe(expected);
    expect(await (await query({ ...body, format: 'csv' })).text()).toBe(expected);
  });

  it('counts the last five minutes for realtime', async () => {
    const now = Date.now();
    const recent = [
      pv(7, '/live', new Date(now - 60_000).toISOString()),
      pv(7, '/live/2', new Date(now - 30_000).toISOString()),
      pv(8, '/live', new Date(now - 20_000).toISOString()),
      pv(9, '/old', new Date(now - 20 * 60_000).toISOString()),
    ].map((event) => ({ ...event, siteId: 'live' }));
    expect((await postJson(stack.app, '/api/events', { events: recent }, { 'user-agent': UA.mac })).status).toBe(202);
    await stack.drain();
    const live = await jsonOf(
      await postJson(
        stack.app,
        '/api/query',
        { siteId: 'live', metrics: ['visitors', 'pageviews'], dateRange: 'realtime' },
        KEY,
      ),
    );
    expect(live.results).toEqual([{ dimensions: [], metrics: [2, 3] }]);
    const byPath = await jsonOf(
      await postJson(
        stack.app,
        '/api/query',
        { siteId: 'live', metrics: ['visitors'], dateRange: 'realtime', dimensions: ['path'] },
        KEY,
      ),
    );
    expect(byPath.results).toEqual([
      { dimensions: ['/live'], metrics: [2] },
      { dimensions: ['/live/2'], metrics: [1] },
    ]);
  });

  it('answers 400 naming the bad metric, dimension, operator and range', async () => {
    const response = await query({
      metrics: ['visitors', 'pageview'],
      dateRange: '8d',
      dimensions: ['planet'],
      filters: [['equals', 'path', ['/']]],
    });
    expect(response.status).toBe(400);
    const body = await jsonOf(response);
    expect(body.error).toBe('Bad Request');
    const text = (body.message as string[]).join('\n');
    for (const named of ['"pageview"', '"8d"', '"planet"', '"equals"']) expect(text).toContain(named);
    const hours = await jsonOf(
      await query({ metrics: ['visitors'], dateRange: ['2024-01-01', '2024-12-31'], dimensions: ['time:hour'] }),
    );
    expect(hours.message).toEqual([expect.stringContaining('"time:hour" spans at most 31 days')]);
    expect((await postJson(stack.app, '/api/query', '{"siteId":', KEY)).status).toBe(400);
  });

  it('needs a stats key unless the site is public', async () => {
    const body = { metrics: ['pageviews'], dateRange: DAYS };
    expect((await query(body, {})).status).toBe(401);
    expect((await query(body, { authorization: 'Bearer wrong' })).status).toBe(401);
    const made = await stack.app.request('/api/sites/shop', {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ public: true }),
    });
    expect(made.status).toBe(200);
    const open = await query(body, {});
    expect(open.status).toBe(200);
    expect((await jsonOf(open)).results).toEqual([{ dimensions: [], metrics: [7] }]);
    await stack.app.request('/api/sites/shop', {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ public: false }),
    });
  });

  it('GET /api/stats keeps its contract: one day exact, a range counting each visitor once', async () => {
    const day = await jsonOf(await stack.app.request('/api/stats?siteId=shop&date=2024-11-15', { headers: KEY }));
    expect(day).toEqual({
      siteId: 'shop',
      date: '2024-11-15',
      totalViews: 4,
      uniqueUsers: 3,
      topPaths: [
        { path: '/', views: 2 },
        { path: '/about', views: 1 },
        { path: '/blog/post', views: 1 },
      ],
    });
    const range = await jsonOf(
      await stack.app.request('/api/stats?siteId=shop&from=2024-11-13&to=2024-11-15', { headers: KEY }),
    );
    expect(range).toMatchObject({ totalViews: 9, uniqueUsers: 4 });
  });

  it('merges sealed days’ sketches with the visitor ids of days not sealed yet', async () => {
    const client = new pg.Client({ connectionString: stack.testDatabase.url });
    await client.connect();
    const seal = async (date: string, dimension: string, value: string, visitors: number[]) => {
      const sketch = new VisitorSketch();
      for (const n of visitors) sketch.add(visitor(n));
      const { rows: sealed } = await client.query(
        `UPDATE site_daily_rollups SET visitors_sketch = $4, visitors_sum = $5
         WHERE site_id = 'shop' AND date = $1 AND dimension = $2 AND value = $3 RETURNING 1`,
        [date, dimension, value, sketch.serialize(), visitors.length],
      );
      expect(sealed).toHaveLength(1);
    };
    await seal('2024-11-14', '', '', [1, 2]);
    await seal('2024-11-15', 'source', 'Direct / None', [1, 2]);
    await client.end();
    expect(await rows({ metrics: ['visitors'], dateRange: DAYS })).toEqual([[3]]);
    expect(await rows({ metrics: ['visitors'], dateRange: DAYS, dimensions: ['source'] })).toEqual([
      ['Direct / None', 2],
      ['Google', 1],
      ['Hacker News', 1],
      ['newsletter', 1],
    ]);
    const range = await jsonOf(
      await stack.app.request('/api/stats?siteId=shop&from=2024-11-13&to=2024-11-15', { headers: KEY }),
    );
    expect(range).toMatchObject({ uniqueUsers: 4 });
  });

  it('answers every cookbook question of docs/query.md, five checked by hand', async () => {
    const docs = readFileSync(new URL('../../../docs/query.md', import.meta.url), 'utf8');
    const bodies = [...docs.matchAll(/-d '(\{.*?\})'/g)].map((match) => JSON.parse(match[1] as string));
    expect(bodies).toHaveLength(10);
    const answers: { dimensions: unknown[]; metrics: number[] }[][] = [];
    for (const body of bodies) {
      // The shop's two days stand in for the named ranges; realtime stays realtime.
      const dateRange = body.dateRange === 'realtime' ? 'realtime' : DAYS;
      const response = await query({ ...body, siteId: 'shop', dateRange });
      expect(response.status, JSON.stringify(body)).toBe(200);
      answers.push(((await jsonOf(response)) as { results: { dimensions: unknown[]; metrics: number[] }[] }).results);
    }
    const flat = (i: number) => answers[i]?.map((row) => [...row.dimensions, ...row.metrics]);
    // 2. Which countries bounce most: bounce rate, then visits.
    expect(flat(1)).toEqual([
      ['FR', 100, 1],
      ['DE', 50, 2],
      ['US', 50, 2],
    ]);
    // 3. Views of /pricing per day.
    expect(flat(2)).toEqual([
      ['2024-11-14', 1],
      ['2024-11-15', 0],
    ]);
    // 6. Mobile or desktop.
    expect(flat(5)).toEqual([
      ['desktop', 2, 66.7, 40],
      ['mobile', 1, 50, 300],
    ]);
    // 7. Where visits from Hacker News land.
    expect(flat(6)).toEqual([['/blog/post', 1, 100]]);
    // 10. Which plans people sign up for.
    expect(flat(9)).toEqual([['pro', 1, 1]]);
  });

  it('reads a sealed month as one row and gives the answers its days give', async () => {
    const november = ['2024-11-01', '2024-11-30'];
    const questions = [
      { metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'visitDuration', 'viewsPerVisit'] },
      { metrics: ['visitors', 'visits', 'bounceRate'], dimensions: ['source'] },
      { metrics: ['visitors', 'pageviews'], dimensions: ['path'] },
      { metrics: ['visitors', 'events'], dimensions: ['time:month'] },
      { metrics: ['visitors', 'pageviews'], filters: [['is', 'country', ['DE', 'FR']]] },
    ];
    const before = [];
    for (const question of questions) before.push(await rows({ ...question, dateRange: november }));
    expect(before[0]).toEqual([[4, 6, 8, 9, 66.7, 120, 1.33]]);

    const db = stack.database.db;
    expect(await sealPeriod(db, 'shop', 'month', '2024-11-01')).toBeGreaterThan(10);
    const sealed = await stack.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM site_monthly_rollups WHERE site_id = 'shop' AND month = '2024-11-01'",
    );
    expect(sealed[0]?.n).toBeGreaterThan(10);
    for (const [i, question] of questions.entries()) {
      expect(await rows({ ...question, dateRange: november }), JSON.stringify(question)).toEqual(before[i]);
    }
    const month = await jsonOf(
      await stack.app.request('/api/stats?siteId=shop&from=2024-11-01&to=2024-11-30', { headers: KEY }),
    );
    expect(month).toMatchObject({ totalViews: 9, uniqueUsers: 4 });
    // A month whose days changed after it was sealed is read from its days again.
    await stack.query(
      "UPDATE site_monthly_rollups SET visits = visits + 1 WHERE site_id = 'shop' AND dimension = '' AND month = '2024-11-01'",
    );
    expect(await rows({ ...(questions[0] as object), dateRange: november })).toEqual(before[0]);
    // The worker's pass reseals it (and seals every other settled month).
    expect(await sealPendingPeriods(db, 'month', { lateEventHours: 48 })).toBeGreaterThanOrEqual(1);
    expect(await sealPendingPeriods(db, 'month', { lateEventHours: 48 })).toBe(0);
  });

  it('reads sealed weeks as one row each and gives the answers their days give', async () => {
    const db = stack.database.db;
    // Weeks are read only outside sealed months: this test's November is read by weeks and days.
    await stack.query("DELETE FROM site_monthly_rollups WHERE site_id = 'shop'");
    const november = ['2024-11-01', '2024-11-30'];
    const questions = [
      { metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'visitDuration', 'viewsPerVisit'] },
      { metrics: ['visitors', 'visits', 'bounceRate'], dimensions: ['source'] },
      { metrics: ['visitors', 'pageviews'], dimensions: ['path'], orderBy: [['visitors', 'desc']] },
      { metrics: ['visitors', 'events'], dimensions: ['time:week'] },
      { metrics: ['visitors', 'events'], dimensions: ['time:month'] },
      { metrics: ['visitors', 'pageviews'], filters: [['is', 'country', ['DE', 'FR']]] },
    ];
    const before = [];
    for (const question of questions) before.push(await rows({ ...question, dateRange: november }));
    expect(before[0]).toEqual([[4, 6, 8, 9, 66.7, 120, 1.33]]);

    // Every settled ISO week, Monday to Sunday: 2024-11-11 holds the events of the 14th and 15th.
    expect(await sealPendingPeriods(db, 'week', { lateEventHours: 48 })).toBeGreaterThanOrEqual(1);
    expect(await sealPendingPeriods(db, 'week', { lateEventHours: 48 })).toBe(0);
    const [week] = await stack.query<{ events: string }>(
      "SELECT events FROM site_weekly_rollups WHERE site_id = 'shop' AND week = '2024-11-11' AND dimension = '' AND value = ''",
    );
    expect(Number(week?.events)).toBeGreaterThan(0);
    for (const [i, question] of questions.entries()) {
      expect(await rows({ ...question, dateRange: november }), JSON.stringify(question)).toEqual(before[i]);
    }
    // The answers come from the week rows: what is changed there shows, where the totals still match the days.
    const raised = await stack.query(
      "UPDATE site_weekly_rollups SET pageviews = pageviews + 100 WHERE site_id = 'shop' AND week = '2024-11-11' AND dimension = 'path' RETURNING value",
    );
    expect(raised.length).toBeGreaterThan(0);
    // Rows of [path, visitors, pageviews].
    const pageviews = (answer: unknown[][]) => answer.reduce((sum, row) => sum + Number(row[2]), 0);
    const changed = await rows({ ...(questions[2] as object), dateRange: november });
    expect(pageviews(changed)).toBe(pageviews(before[2] as unknown[][]) + 100 * raised.length);
    await stack.query(
      "UPDATE site_weekly_rollups SET pageviews = pageviews - 100 WHERE site_id = 'shop' AND week = '2024-11-11' AND dimension = 'path'",
    );
    // A week whose days changed after it was sealed is read from its days again, and sealed again.
    await stack.query(
      "UPDATE site_weekly_rollups SET events = events + 1 WHERE site_id = 'shop' AND dimension = '' AND week = '2024-11-11'",
    );
    expect(await rows({ ...(questions[2] as object), dateRange: november })).toEqual(before[2]);
    expect(await sealPendingPeriods(db, 'week', { lateEventHours: 48 })).toBe(1);
    expect(await rows({ ...(questions[2] as object), dateRange: november })).toEqual(before[2]);
  });
});
