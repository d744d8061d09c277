/**
 * The query client against an msw server playing Tally: it parses every
 * request with the server's own schema and answers in the server's shapes, so
 * the client's types and the wire contract cannot drift apart.
 */
import { formatIssues, type QueryResponse, queryRequestSchema, queryResponseSchema } from '@tally/shared';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createClient, TallyQueryError } from './index.js';

const API = 'https://stats.example.com';
const seen: { url: string; auth: string | null; accept: string | null; body: unknown }[] = [];

const answer: QueryResponse = {
  results: [
    { dimensions: ['Google'], metrics: [1204], comparison: { metrics: [1301], change: [-7.5] } },
    { dimensions: ['Hacker News'], metrics: [310], comparison: { metrics: [0], change: [null] } },
  ],
  meta: {
    metrics: ['visitors'],
    dimensions: ['source'],
    dateRange: ['2024-02-09', '2024-03-09'],
    timeZone: 'Europe/Berlin',
    totalRows: 2,
    approximate: ['visitors'],
    comparison: { dateRange: ['2024-01-10', '2024-02-08'] },
  },
};

const server = setupServer(
  http.post(`${API}/api/query`, async ({ request }) => {
    const body = await request.json();
    seen.push({
      url: request.url,
      auth: request.headers.get('authorization'),
      accept: request.headers.get('accept'),
      body,
    });
    const parsed = queryRequestSchema.safeParse(body);
    if (!parsed.success)
      return HttpResponse.json(
        { statusCode: 400, message: formatIssues(parsed.error.issues), error: 'Bad Request' },
        { status: 400 },
      );
    if (parsed.data.siteId === 'private') {
      return HttpResponse.json(
        { statusCode: 401, message: 'Missing or invalid credentials', error: 'Unauthorized' },
        { status: 401 },
      );
    }
    if (parsed.data.siteId === 'behind_proxy') return new HttpResponse('<h1>502 Bad Gateway</h1>', { status: 502 });
    if (parsed.data.format === 'csv')
      return new HttpResponse('source,visitors\r\nGoogle,1204\r\n', { headers: { 'Content-Type': 'text/csv' } });
    return HttpResponse.json(queryResponseSchema.parse(answer));
  }),
  http.get(`${API}/api/stats`, ({ request }) => {
    const url = new URL(request.url);
    seen.push({
      url: request.url,
      auth: request.headers.get('authorization'),
      accept: request.headers.get('accept'),
      body: null,
    });
    return HttpResponse.json({
      siteId: url.searchParams.get('siteId'),
      date: url.searchParams.get('date'),
      totalViews: 12,
      uniqueUsers: 3,
      topPaths: [{ path: '/', views: 12 }],
    });
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  seen.length = 0;
});
afterAll(() => server.close());

describe('query', () => {
  test('posts the request as JSON with the key, and returns the typed answer', async () => {
    const tally = createClient({ baseUrl: `${API}/`, apiKey: 'k_123' });
    const response = await tally.query({
      siteId: 'my_site',
      metrics: ['visitors'],
      dateRange: '30d',
      dimensions: ['source'],
      compare: 'previousPeriod',
      limit: 10,
    });
    expect(response).toEqual(answer);
    const top = response.results[0];
    expect(top?.comparison?.change[0]).toBe(-7.5);
    expect(seen).toEqual([
      {
        url: `${API}/api/query`,
        auth: 'Bearer k_123',
        accept: 'application/json',
        body: {
          siteId: 'my_site',
          metrics: ['visitors'],
          dateRange: '30d',
          dimensions: ['source'],
          compare: 'previousPeriod',
          limit: 10,
        },
      },
    ]);
  });

  test('without a key no Authorization header is sent (public sites)', async () => {
    await createClient({ baseUrl: API }).query({ siteId: 'public_site', metrics: ['visits'], dateRange: 'today' });
    expect(seen[0]?.auth).toBeNull();
  });

  test('a 400 throws TallyQueryError with the status and every message', async () => {
    const tally = createClient({ baseUrl: API });
    const request = { siteId: 'my_site', metrics: ['pageview'], dateRange: '8d' } as never;
    const error = await tally.query(request).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TallyQueryError);
    expect(error).toMatchObject({
      name: 'TallyQueryError',
      status: 400,
      messages: [
        expect.stringMatching(/^metrics\.0: unknown metric "pageview"/),
        expect.stringMatching(/^dateRange: unknown range "8d"/),
      ],
    });
  });

  test('a single-message error (401) becomes a one-item list', async () => {
    const error = await createClient({ baseUrl: API })
      .query({ siteId: 'private', metrics: ['visitors'], dateRange: '7d' })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 401, messages: ['Missing or invalid credentials'] });
  });

  test('an answer that is not the error shape keeps its text', async () => {
    const error = await createClient({ baseUrl: API })
      .query({ siteId: 'behind_proxy', metrics: ['visitors'], dateRange: '7d' })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 502, messages: ['<h1>502 Bad Gateway</h1>'] });
  });

  test('a failing network rejects with the fetch error', async () => {
    const broken = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    await expect(
      createClient({ baseUrl: API, fetch: broken }).query({ siteId: 's', metrics: ['visitors'], dateRange: '7d' }),
    ).rejects.toThrow('fetch failed');
  });
});

describe('queryCsv and stats', () => {
  test('queryCsv asks for text/csv with format csv and returns the text', async () => {
    const csv = await createClient({ baseUrl: API }).queryCsv({
      siteId: 'my_site',
      metrics: ['visitors'],
      dateRange: '30d',
      dimensions: ['source'],
    });
    expect(csv).toBe('source,visitors\r\nGoogle,1204\r\n');
    expect(seen[0]).toMatchObject({ accept: 'text/csv', body: { format: 'csv' } });
  });

  test('stats sends the parameters as a query string', async () => {
    const stats = await createClient({ baseUrl: API, apiKey: 'k' }).stats({ siteId: 'my_site', date: '2024-03-08' });
    expect(stats).toMatchObject({ siteId: 'my_site', date: '2024-03-08', totalViews: 12, uniqueUsers: 3 });
    expect(seen[0]).toMatchObject({ url: `${API}/api/stats?siteId=my_site&date=2024-03-08`, auth: 'Bearer k' });
  });

  test('a custom fetch is used', async () => {
    const calls: string[] = [];
    const spy = ((input: RequestInfo | URL, init?: RequestInit) => {
      calls.push(String(input));
      return fetch(input, init);
    }) as typeof fetch;
    await createClient({ baseUrl: API, fetch: spy }).stats({ siteId: 'my_site', date: '2024-03-08' });
    expect(calls).toEqual([`${API}/api/stats?siteId=my_site&date=2024-03-08`]);
  });
});
