// @vitest-environment node
/** The query client in plain Node (no DOM globals): Node 20's own fetch, Headers and Response. */
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createClient, TallyQueryError } from './index.js';

const server = setupServer(
  http.post('http://tally.internal:3000/api/query', async ({ request }) => {
    const body = (await request.json()) as { siteId: string };
    if (body.siteId !== 'my_site')
      return HttpResponse.json(
        { statusCode: 400, message: ['siteId is wrong'], error: 'Bad Request' },
        { status: 400 },
      );
    return HttpResponse.json({
      results: [{ dimensions: [], metrics: [7] }],
      meta: {
        metrics: ['visitors'],
        dimensions: [],
        dateRange: ['2024-03-08', '2024-03-08'],
        timeZone: 'UTC',
        totalRows: 1,
        approximate: [],
      },
    });
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

test('runs in Node without a DOM', async () => {
  expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
  const tally = createClient({ baseUrl: 'http://tally.internal:3000' });
  const { results, meta } = await tally.query({ siteId: 'my_site', metrics: ['visitors'], dateRange: 'today' });
  expect(results[0]?.metrics).toEqual([7]);
  expect(meta.approximate).toEqual([]);
  await expect(tally.query({ siteId: 'other', metrics: ['visitors'], dateRange: 'today' })).rejects.toEqual(
    new TallyQueryError(400, ['siteId is wrong']),
  );
});
