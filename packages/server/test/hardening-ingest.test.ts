/**
 * Hardening of ingestion and the stats parameters (issue "Hardening"): a 503
 * names the ids to resend with, dates and timestamps mean the same day in JS
 * and PostgreSQL, visitor identity survives junk cookies and midnight, and
 * `ALLOWED_ORIGINS` refuses what it does not allow.
 */
import { randomUUID } from 'node:crypto';
import { DAY_MS } from '@tally/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { jsonOf, pageView, postJson, startTcpProxy, startTestStack, type TestStack } from './support.js';

const BROWSER =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('a 503 whose queue write lands later', () => {
  let stack: TestStack;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  beforeAll(async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
  });
  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it('names the ids it gave, so a resend with them counts once', async () => {
    proxy.pause(); // Redis answers nothing for now; what was sent waits in the proxy
    const [single, batch] = await Promise.all([
      postJson(stack.app, '/api/event', pageView({ siteId: 'late', path: '/single' })),
      postJson(stack.app, '/api/events', {
        events: [pageView({ siteId: 'late', path: '/a' }), { bad: true }, pageView({ siteId: 'late', path: '/b' })],
      }),
    ]);
    expect(single.status).toBe(503);
    expect(single.headers.get('retry-after')).toBe('5');
    const singleBody = await jsonOf(single);
    expect(singleBody).toMatchObject({
      statusCode: 503,
      message: 'The event queue is unavailable; retry later',
      error: 'Service Unavailable',
    });
    expect(singleBody.eventId).toMatch(/^[0-9a-f-]{36}$/);
    const batchBody = await jsonOf(batch);
    expect(batch.status).toBe(503);
    expect(batchBody.eventIds).toHaveLength(2); // the two valid events, in order

    // The writes were not cancelled: they land once Redis answers again.
    proxy.resume();
    await stack.drain();
    const stored = async () =>
      (await stack.query<{ path: string }>("select path from raw_events where site_id = 'late' order by path")).map(
        (row) => row.path,
      );
    await vi.waitFor(async () => expect(await stored()).toEqual(['/a', '/b', '/single']), { timeout: 10_000 });

    // The client retries with the ids it was given: nothing counts twice.
    const [idA, idB] = batchBody.eventIds as string[];
    expect(
      (
        await postJson(
          stack.app,
          '/api/event',
          pageView({ siteId: 'late', path: '/single', eventId: singleBody.eventId }),
        )
      ).status,
    ).toBe(202);
    const resend = await postJson(stack.app, '/api/events', {
      events: [
        pageView({ siteId: 'late', path: '/a', eventId: idA }),
        pageView({ siteId: 'late', path: '/b', eventId: idB }),
      ],
    });
    expect(resend.status).toBe(202);
    await stack.drain();
    expect(await stored()).toEqual(['/a', '/b', '/single']);
    const [row] = await stack.query<{ total_views: number }>(
      "select total_views::int from site_daily_aggregates where site_id = 'late'",
    );
    expect(row?.total_views).toBe(3);
  });
});

describe('days that JS and PostgreSQL agree on', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['date=0000-01-01', 'date must be between 1970-01-01 and 9999-12-31'],
    ['from=0000-01-01&to=0000-01-02', 'from must be between 1970-01-01 and 9999-12-31'],
    ['from=0000-01-01&to=0000-01-02&eventType=click', 'from must be between 1970-01-01 and 9999-12-31'],
    ['date=0000-02-29&eventType=click', 'date must be between 1970-01-01 and 9999-12-31'],
  ])('GET /api/stats?%s is a 400, never a 500', async (query, message) => {
    const response = await stack.app.request(`/api/stats?siteId=s&${query}`);
    expect(response.status).toBe(400);
    expect((await jsonOf(response)).message).toContain(message);
  });

  it.each(['date=9999-12-31', 'from=9999-12-01&to=9999-12-31', 'from=9999-12-01&to=9999-12-31&eventType=click'])(
    'GET /api/stats?%s, the last day there is, answers 404',
    async (query) => {
      expect((await stack.app.request(`/api/stats?siteId=s&${query}`)).status).toBe(404);
    },
  );

  it.each([[['9999-12-01', '9999-12-31']], [['1970-01-01', '1970-01-31']], [['9999-01-01', '9999-12-31']]])(
    'POST /api/query over %j, at the edges of time, answers 200 or 400, never a 500',
    async (dateRange) => {
      for (const dimensions of [[], ['time:day'], ['time:month'], ['source']]) {
        const response = await postJson(stack.app, '/api/query', {
          siteId: 's',
          metrics: ['visitors', 'pageviews'],
          dateRange,
          dimensions,
          compare: 'previousPeriod',
        });
        expect([200, 400], `${JSON.stringify(dimensions)}: ${await response.clone().text()}`).toContain(
          response.status,
        );
      }
    },
  );

  it('a timestamp past microseconds stays on its day: cut to milliseconds when queued', async () => {
    const response = await postJson(
      stack.app,
      '/api/event',
      pageView({ siteId: 'nanos', timestamp: '2024-11-14T23:59:59.9999999Z' }),
    );
    expect(response.status).toBe(202);
    await stack.drain();
    const [row] = await stack.query<{ ts: string; day: string }>(
      "select to_char(event_ts at time zone 'UTC', 'HH24:MI:SS.US') as ts, event_date::text as day from raw_events where site_id = 'nanos'",
    );
    expect(row).toEqual({ ts: '23:59:59.999000', day: '2024-11-14' });
    const stats = await stack.app.request('/api/stats?siteId=nanos&date=2024-11-14');
    expect(await jsonOf(stats)).toMatchObject({ totalViews: 1 });
  });
});

describe('visitor identity', () => {
  let stack: TestStack;
  let cookieless: TestStack;
  beforeAll(async () => {
    [stack, cookieless] = await Promise.all([
      startTestStack({ worker: false }),
      startTestStack({ env: { VISITOR_ID_MODE: 'cookieless' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([stack?.close(), cookieless?.close()]);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a junk visitor_id cookie before a good one does not hide it', async () => {
    const id = randomUUID();
    for (const cookie of [`visitor_id=junk; visitor_id=${id}`, `other=1; visitor_id=; visitor_id=${id}; x=2`]) {
      const response = await postJson(stack.app, '/api/event', pageView(), { Cookie: cookie });
      expect((await jsonOf(response)).visitorId).toBe(id);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    // A cookie whose name only ends in visitor_id is not it.
    const other = await postJson(stack.app, '/api/event', pageView(), { Cookie: `my_visitor_id=${id}` });
    expect((await jsonOf(other)).visitorId).not.toBe(id);
  });

  it('cookieless: an event stamped before midnight and sent after it is the same visitor as that day', async () => {
    const day = new Date(Date.now() - (Date.now() % DAY_MS)).toISOString().slice(0, 10);
    const midnight = Date.parse(`${day}T00:00:00Z`) + DAY_MS;
    const send = (timestamp: string, path: string) =>
      postJson(cookieless.app, '/api/event', pageView({ siteId: 'midnight', timestamp, path }), {
        'User-Agent': BROWSER,
      }).then(async (response) => {
        expect(response.status).toBe(202);
        return (await jsonOf(response)).visitorId as string;
      });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(midnight - 30_000);
    const before = await send(`${day}T23:59:00Z`, '/before');
    vi.setSystemTime(midnight + 30_000);
    const late = await send(`${day}T23:59:10Z`, '/late'); // queued offline, sent after midnight
    const nextDay = await send(new Date(midnight + 20_000).toISOString(), '/next');
    vi.useRealTimers();

    expect(late).toBe(before);
    expect(nextDay).not.toBe(before); // a new day, a new salt: not linkable across days
    await cookieless.drain();
    const stats = await jsonOf(await cookieless.app.request(`/api/stats?siteId=midnight&date=${day}`));
    expect(stats).toMatchObject({ totalViews: 2, uniqueUsers: 1 });
  });
});

describe('ALLOWED_ORIGINS', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, env: { ALLOWED_ORIGINS: 'https://shop.example' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const sendFrom = (origin: string | undefined, path: '/api/event' | '/api/events', body: unknown) =>
    stack.app.request(path, {
      method: 'POST',
      // text/plain, as sendBeacon sends: no preflight, so CORS alone would refuse nothing.
      headers: { 'Content-Type': 'text/plain', ...(origin ? { Origin: origin } : {}) },
      body: JSON.stringify(body),
    });

  it('refuses events from any other origin with 403, queues none, and counts them by reason', async () => {
    const waiting = async () => (await stack.queue.counts()).waiting;
    const single = await sendFrom('https://evil.example', '/api/event', pageView());
    expect(single.status).toBe(403);
    expect(await jsonOf(single)).toEqual({
      statusCode: 403,
      message: 'Origin https://evil.example is not allowed to send events (ALLOWED_ORIGINS)',
      error: 'Forbidden',
    });
    const batch = await sendFrom('null', '/api/events', { events: [pageView(), pageView({ path: '/2' })] });
    expect(batch.status).toBe(403);
    expect(await waiting()).toBe(0);

    expect((await sendFrom('https://shop.example', '/api/event', pageView())).status).toBe(202);
    expect((await sendFrom(undefined, '/api/event', pageView())).status).toBe(202); // a server, not a page
    expect(await waiting()).toBe(2);

    const metrics = await (await stack.app.request('/metrics')).text();
    expect(metrics).toContain('tally_ingest_filtered_events_total{reason="origin"} 3');
  });
});
