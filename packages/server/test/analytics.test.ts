/**
 * SPEC §9–§11 end to end: events from real browsers (User-Agents, referrers,
 * UTM, CDN country headers) for a site in America/New_York, delivered
 * shuffled, split and duplicated, give the visits, bounce rate, duration,
 * entry and exit pages, sources, channels, devices, OS and countries worked
 * out by hand below — in the database and through GET /api/stats for the local
 * day. Then the sites API: keys, allowed host names, a time-zone re-fold, and
 * deleting a site with all its data.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { mergeSketches } from '../src/query/sketches.js';
import { sealDay, sealDueDays } from '../src/worker/sketches.js';
import { jsonOf, postJson, silentLogger, startTestStack, type TestStack } from './support.js';

const ADMIN = { authorization: 'Bearer admin-secret' };
const UA = {
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0',
};
const ORIGIN = 'https://news.example';

const id = (n: number) => `aaaaaaaa-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const visitor = (n: number) => `bbbbbbbb-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

interface Sent {
  headers: Record<string, string>;
  event: Record<string, unknown>;
}

/** What each visitor did. New York is UTC−5 in November: 2024-11-15T03:10Z is 22:10 on the 14th there. */
function scenario(): Sent[] {
  const a = { 'user-agent': UA.iphone, 'cf-ipcountry': 'US', origin: ORIGIN };
  const b = { 'user-agent': UA.windows, 'x-vercel-ip-country': 'DE', origin: ORIGIN };
  const c = { 'user-agent': UA.mac, 'cloudfront-viewer-country': 'FR', origin: ORIGIN };
  const d = { 'user-agent': UA.windows, origin: ORIGIN };
  const base = { siteId: 'news', eventType: 'page_view' };
  return [
    // A: from Google, three events over 10 minutes, an internal referrer on the second.
    {
      headers: a,
      event: {
        ...base,
        eventId: id(1),
        visitorId: visitor(1),
        path: '/',
        timestamp: '2024-11-14T15:00:00Z',
        referrer: 'https://www.google.com/',
      },
    },
    {
      headers: a,
      event: {
        ...base,
        eventId: id(2),
        visitorId: visitor(1),
        path: '/pricing',
        timestamp: '2024-11-14T15:05:00Z',
        referrer: `${ORIGIN}/`,
      },
    },
    {
      headers: a,
      event: {
        ...base,
        eventType: 'signup',
        eventId: id(3),
        visitorId: visitor(1),
        path: '/pricing',
        timestamp: '2024-11-14T15:10:00Z',
        props: { plan: 'pro' },
      },
    },
    // B: a bounce from Hacker News, then 40 minutes later a direct visit of two pages (both late evening in New York).
    {
      headers: b,
      event: {
        ...base,
        eventId: id(4),
        visitorId: visitor(2),
        path: '/blog/post',
        timestamp: '2024-11-15T02:30:00Z',
        referrer: 'https://news.ycombinator.com/item?id=1',
      },
    },
    {
      headers: b,
      event: { ...base, eventId: id(5), visitorId: visitor(2), path: '/', timestamp: '2024-11-15T03:10:00Z' },
    },
    {
      headers: b,
      event: {
        ...base,
        eventId: id(6),
        visitorId: visitor(2),
        path: '/about',
        timestamp: '2024-11-15T03:15:00Z',
        referrer: `${ORIGIN}/`,
      },
    },
    // C: a bounce from the newsletter.
    {
      headers: c,
      event: {
        ...base,
        eventId: id(7),
        visitorId: visitor(3),
        path: '/blog/post',
        timestamp: '2024-11-14T12:00:00Z',
        utmSource: 'newsletter',
        utmMedium: 'email',
        utmCampaign: 'weekly',
      },
    },
    // D: 23:00 on the 13th in New York (the 14th in UTC).
    {
      headers: d,
      event: { ...base, eventId: id(8), visitorId: visitor(4), path: '/', timestamp: '2024-11-14T04:00:00Z' },
    },
  ];
}

/** Deterministic shuffle (a linear congruential generator), so a failure reproduces. */
function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe('analytics for a site in America/New_York', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The scenario is set in November 2024: events that old shape visits only when the late limit allows it.
    stack = await startTestStack({
      env: { TRUST_PROXY: '1', ADMIN_API_KEY: 'admin-secret', LATE_EVENT_HOURS: '1000000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('shuffled, split and duplicated delivery gives the visits, sources, devices and countries worked out by hand', async () => {
    const created = await stack.app.request('/api/sites/news', {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ timeZone: 'America/New_York' }),
    });
    expect(created.status).toBe(201);

    // Every event twice (the second copy as a lone resend), in shuffled order, one request per event or pair.
    const sends = shuffled([...scenario(), ...scenario()], 7);
    for (let i = 0; i < sends.length; i++) {
      const { headers, event } = sends[i] as Sent;
      const next = sends[i + 1];
      if (next && JSON.stringify(next.headers) === JSON.stringify(headers) && i % 3 === 0) {
        expect((await postJson(stack.app, '/api/events', { events: [event, next.event] }, headers)).status).toBe(202);
        i++;
      } else {
        expect((await postJson(stack.app, '/api/event', event, headers)).status).toBe(202);
      }
    }
    await stack.drain();

    const visits = await stack.query(
      `SELECT visitor_id, date::text, events, pageviews, extract(epoch FROM ended_at - started_at)::int AS duration,
              entry_page, exit_page, source, channel, device, browser, os, country, utm_campaign
       FROM visits WHERE site_id = 'news' ORDER BY started_at`,
    );
    expect(visits).toEqual([
      {
        visitor_id: visitor(4),
        date: '2024-11-13',
        events: 1,
        pageviews: 1,
        duration: 0,
        entry_page: '/',
        exit_page: '/',
        source: 'Direct / None',
        channel: 'Direct',
        device: 'desktop',
        browser: 'Chrome',
        os: 'Windows',
        country: null,
        utm_campaign: null,
      },
      {
        visitor_id: visitor(3),
        date: '2024-11-14',
        events: 1,
        pageviews: 1,
        duration: 0,
        entry_page: '/blog/post',
        exit_page: '/blog/post',
        source: 'newsletter',
        channel: 'Email',
        device: 'desktop',
        browser: 'Firefox',
        os: 'Mac OS',
        country: 'FR',
        utm_campaign: 'weekly',
      },
      {
        visitor_id: visitor(1),
        date: '2024-11-14',
        events: 3,
        pageviews: 2,
        duration: 600,
        entry_page: '/',
        exit_page: '/pricing',
        source: 'Google',
        channel: 'Organic Search',
        device: 'mobile',
        browser: 'Mobile Safari',
        os: 'iOS',
        country: 'US',
        utm_campaign: null,
      },
      {
        visitor_id: visitor(2),
        date: '2024-11-14',
        events: 1,
        pageviews: 1,
        duration: 0,
        entry_page: '/blog/post',
        exit_page: '/blog/post',
        source: 'Hacker News',
        channel: 'Organic Social',
        device: 'desktop',
        browser: 'Chrome',
        os: 'Windows',
        country: 'DE',
        utm_campaign: null,
      },
      {
        visitor_id: visitor(2),
        date: '2024-11-14',
        events: 2,
        pageviews: 2,
        duration: 300,
        entry_page: '/',
        exit_page: '/about',
        source: 'Direct / None',
        channel: 'Direct',
        device: 'desktop',
        browser: 'Chrome',
        os: 'Windows',
        country: 'DE',
        utm_campaign: null,
      },
    ]);

    // The day's rollups: 7 events, 6 page views, 4 visits, 2 bounces (50%), 900 s in all (mean 225 s).
    const rollups = await stack.query<{
      dimension: string;
      value: string;
      events: number;
      pageviews: number;
      visits: number;
      bounces: number;
      duration_s: number;
    }>(
      `SELECT dimension, value, events::int, pageviews::int, visits::int, bounces::int, duration_s::int
       FROM site_daily_rollups WHERE site_id = 'news' AND date = '2024-11-14' ORDER BY dimension, value COLLATE "C"`,
    );
    const slice = (dimension: string) =>
      Object.fromEntries(
        rollups.filter((r) => r.dimension === dimension).map(({ dimension: _, value, ...m }) => [value, m]),
      );
    expect(slice('')).toEqual({ '': { events: 7, pageviews: 6, visits: 4, bounces: 2, duration_s: 900 } });
    const visitsBy = (dimension: string) =>
      Object.fromEntries(
        rollups.filter((r) => r.dimension === dimension && r.visits > 0).map((r) => [r.value, r.visits]),
      );
    expect(visitsBy('source')).toEqual({ 'Direct / None': 1, Google: 1, 'Hacker News': 1, newsletter: 1 });
    expect(visitsBy('channel')).toEqual({ Direct: 1, Email: 1, 'Organic Search': 1, 'Organic Social': 1 });
    expect(visitsBy('entryPage')).toEqual({ '/': 2, '/blog/post': 2 });
    expect(visitsBy('exitPage')).toEqual({ '/about': 1, '/blog/post': 2, '/pricing': 1 });
    expect(visitsBy('device')).toEqual({ desktop: 3, mobile: 1 });
    expect(visitsBy('os')).toEqual({ iOS: 1, 'Mac OS': 1, Windows: 2 });
    expect(visitsBy('country')).toEqual({ DE: 2, FR: 1, US: 1 });
    expect(visitsBy('referrer')).toEqual({ 'google.com': 1, 'news.ycombinator.com': 1 });
    expect(visitsBy('utmMedium')).toEqual({ email: 1 });
    expect(slice('source').Google).toEqual({ events: 3, pageviews: 2, visits: 1, bounces: 0, duration_s: 600 });
    expect(slice('eventType')).toMatchObject({ page_view: { events: 6 }, signup: { events: 1 } });
    expect(slice('props:plan')).toMatchObject({ pro: { events: 1, pageviews: 0 } });

    // GET /api/stats answers the site-local day: D's event is on the 13th, B's late evening on the 14th.
    const day = await jsonOf(await stack.app.request('/api/stats?siteId=news&date=2024-11-14'));
    expect(day).toEqual({
      siteId: 'news',
      date: '2024-11-14',
      totalViews: 7,
      uniqueUsers: 3,
      topPaths: [
        { path: '/', views: 2 },
        { path: '/blog/post', views: 2 },
        { path: '/pricing', views: 2 },
        { path: '/about', views: 1 },
      ],
    });
    expect(await jsonOf(await stack.app.request('/api/stats?siteId=news&date=2024-11-13'))).toMatchObject({
      totalViews: 1,
      uniqueUsers: 1,
    });
    expect((await stack.app.request('/api/stats?siteId=news&date=2024-11-15')).status).toBe(404);

    // Neither the IP address nor the User-Agent is stored anywhere.
    const raw = JSON.stringify(await stack.query("SELECT * FROM raw_events WHERE site_id = 'news'"));
    expect(raw).not.toContain('Mozilla');
    expect(raw).not.toContain('127.0.0.1');
    expect(raw).toContain('"browser_version":"120"');
  });

  it('sealing a day fills exact visitor counts and mergeable sketches into its rollup rows', async () => {
    expect(await sealDay(stack.database.db, 'news', '2024-11-14')).toBe(true);
    const rows = await stack.query<{ dimension: string; value: string; visitors_sum: number; visitors_sketch: Buffer }>(
      `SELECT dimension, value, visitors_sum::int, visitors_sketch FROM site_daily_rollups
       WHERE site_id = 'news' AND date = '2024-11-14' AND visitors_sum IS NOT NULL`,
    );
    const visitors = Object.fromEntries(rows.map((row) => [`${row.dimension}|${row.value}`, row.visitors_sum]));
    expect(visitors).toMatchObject({
      '|': 3,
      'path|/': 2,
      'path|/pricing': 1,
      'source|Google': 1,
      'source|Direct / None': 1,
      'country|DE': 1,
      'device|desktop': 2,
      'entryPage|/blog/post': 2,
    });
    // A breakdown's visitors over several rows: merge their sketches (B and C entered on /blog/post, A and B on /).
    const entry = rows.filter((row) => row.dimension === 'entryPage').map((row) => row.visitors_sketch);
    expect(mergeSketches(entry).estimate()).toBe(3);
    expect(
      await stack.query("SELECT events::int FROM site_day_seals WHERE site_id = 'news' AND date = '2024-11-14'"),
    ).toEqual([{ events: 7 }]);
    // Due days: every past day once the late limit allows it; then nothing is due until a day changes.
    expect(await sealDueDays(stack.database.db, { timeoutMinutes: 30, lateEventHours: 0 })).toBeGreaterThan(0);
    expect(await sealDueDays(stack.database.db, { timeoutMinutes: 30, lateEventHours: 0 })).toBe(0);
  });

  it('the sites API lists sites with their days and counts, and guards writes with ADMIN_API_KEY', async () => {
    const list = await jsonOf(await stack.app.request('/api/sites'));
    expect(list.sites).toEqual([
      expect.objectContaining({
        siteId: 'news',
        timeZone: 'America/New_York',
        public: false,
        firstDay: '2024-11-13',
        lastDay: '2024-11-14',
        events: 8,
      }),
    ]);
    const put = (headers: Record<string, string>, body: unknown, site = 'news') =>
      stack.app.request(`/api/sites/${site}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await put({}, { public: true })).status).toBe(401);
    expect((await put({ authorization: 'Bearer wrong' }, { public: true })).status).toBe(401);
    const bad = await put(ADMIN, { timeZone: 'Mars/Olympus', colour: 'red' });
    expect(bad.status).toBe(400);
    expect((await jsonOf(bad)).message).toEqual(expect.arrayContaining([expect.stringContaining('timeZone')]));
    expect((await put(ADMIN, { public: true })).status).toBe(200);
    expect(await jsonOf(await stack.app.request('/api/sites/news'))).toMatchObject({
      public: true,
      timeZone: 'America/New_York',
    });
    expect((await stack.app.request('/api/sites/nope')).status).toBe(404);

    const closed = createApp({
      statsDb: stack.database.db,
      pingDatabase: stack.database.ping,
      queue: stack.queue,
      config: { ...stack.config, ADMIN_API_KEY: undefined },
      logger: silentLogger,
    });
    const refused = await closed.request('/api/sites/news', { method: 'DELETE', headers: ADMIN });
    expect(refused.status).toBe(403);
    expect(await jsonOf(refused)).toEqual({
      statusCode: 403,
      message: 'Site changes are disabled: set ADMIN_API_KEY to allow them',
      error: 'Forbidden',
    });
  });

  it('drops events from pages off a site’s allowed host names (202), counting them by reason', async () => {
    expect(
      (
        await stack.app.request('/api/sites/shop', {
          method: 'PUT',
          headers: { ...ADMIN, 'content-type': 'application/json' },
          body: JSON.stringify({ allowedHostnames: ['shop.example'] }),
        })
      ).status,
    ).toBe(201);
    const event = { siteId: 'shop', eventType: 'page_view', path: '/', timestamp: '2024-11-14T10:00:00Z' };
    expect((await postJson(stack.app, '/api/event', event, { origin: 'https://evil.example' })).status).toBe(202);
    expect((await postJson(stack.app, '/api/event', event, {})).status).toBe(202);
    expect((await postJson(stack.app, '/api/event', event, { origin: 'https://www.shop.example' })).status).toBe(202);
    await stack.drain();
    expect(await stack.query("SELECT count(*)::int AS n FROM raw_events WHERE site_id = 'shop'")).toEqual([{ n: 1 }]);
    const metrics = await (await stack.app.request('/metrics')).text();
    expect(metrics).toContain('tally_ingest_filtered_events_total{reason="hostname"} 2');
  });

  it('a new time zone re-folds the days raw events hold; deleting a site removes all its data', async () => {
    const event = {
      siteId: 'moving',
      eventType: 'page_view',
      path: '/',
      visitorId: visitor(9),
      timestamp: '2024-11-15T03:00:00Z',
    };
    await postJson(stack.app, '/api/event', event, { origin: 'https://moving.example' });
    await stack.drain();
    expect(await jsonOf(await stack.app.request('/api/stats?siteId=moving&date=2024-11-15'))).toMatchObject({
      totalViews: 1,
    });

    const moved = await stack.app.request('/api/sites/moving', {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ timeZone: 'America/New_York' }),
    });
    expect(moved.status).toBe(200);
    await vi.waitFor(
      async () => {
        const [site] = await stack.query<{ done: boolean }>(
          "SELECT time_zone = rollups_time_zone AS done FROM sites WHERE site_id = 'moving'",
        );
        expect(site?.done).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(await jsonOf(await stack.app.request('/api/stats?siteId=moving&date=2024-11-14'))).toMatchObject({
      totalViews: 1,
      uniqueUsers: 1,
    });
    expect((await stack.app.request('/api/stats?siteId=moving&date=2024-11-15')).status).toBe(404);
    expect(
      await stack.query(
        "SELECT date::text, visits::int FROM site_daily_rollups WHERE site_id = 'moving' AND dimension = ''",
      ),
    ).toEqual([{ date: '2024-11-14', visits: 1 }]);

    // And back east: the New York day of the 14th goes, the UTC day of the 15th comes back, nothing counts twice.
    await stack.app.request('/api/sites/moving', {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ timeZone: 'UTC' }),
    });
    await vi.waitFor(
      async () => {
        const [site] = await stack.query<{ done: boolean }>(
          "SELECT time_zone = rollups_time_zone AS done FROM sites WHERE site_id = 'moving'",
        );
        expect(site?.done).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(
      await stack.query(
        "SELECT date::text, total_views::int FROM site_daily_aggregates WHERE site_id = 'moving' ORDER BY date",
      ),
    ).toEqual([{ date: '2024-11-15', total_views: 1 }]);

    expect((await stack.app.request('/api/sites/moving', { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    const left = await stack.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM raw_events WHERE site_id = 'moving') + (SELECT count(*) FROM visits WHERE site_id = 'moving')
            + (SELECT count(*) FROM site_daily_rollups WHERE site_id = 'moving') + (SELECT count(*) FROM site_daily_aggregates WHERE site_id = 'moving')
            + (SELECT count(*) FROM site_daily_unique_users WHERE site_id = 'moving') + (SELECT count(*) FROM sites WHERE site_id = 'moving') AS n`,
    );
    expect(Number(left[0]?.n)).toBe(0);
    expect((await stack.app.request('/api/sites/moving', { method: 'DELETE', headers: ADMIN })).status).toBe(404);
  });
});
