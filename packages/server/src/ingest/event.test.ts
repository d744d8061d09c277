import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';

const COOKIE_VISITOR = '11111111-2222-4333-8444-555555555555';
const BODY_VISITOR = '99999999-8888-4777-8666-555555555555';

/** No worker runs here: whatever a request enqueues stays waiting, so tests can see it. */
describe('POST /api/event', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function waitingEvents() {
    const jobs = await stack.queue.queue.getJobs(['waiting']);
    return jobs.flatMap((job) => job.data.events);
  }

  async function expectNothingEnqueued(send: () => Promise<Response>, status: number) {
    const before = (await stack.queue.counts()).waiting;
    const response = await send();
    expect(response.status).toBe(status);
    expect((await stack.queue.counts()).waiting).toBe(before);
    return jsonOf(response);
  }

  it('accepts text/plain JSON, as sendBeacon sends it', async () => {
    const response = await stack.app.request('/api/event', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify(pageView({ path: '/beacon' })),
    });
    expect(response.status).toBe(202);
    const { eventId } = await jsonOf(response);
    expect((await waitingEvents()).some((event) => event.eventId === eventId && event.path === '/beacon')).toBe(true);
  });

  it('keeps a client eventId (lower-cased) and fills one in when absent', async () => {
    const response = await postJson(
      stack.app,
      '/api/event',
      pageView({ eventId: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE' }),
    );
    expect((await jsonOf(response)).eventId).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
  });

  it('prefers the visitor cookie over the body visitorId and sets no cookie', async () => {
    const response = await postJson(stack.app, '/api/event', pageView({ visitorId: BODY_VISITOR }), {
      Cookie: `theme=dark; visitor_id=${COOKIE_VISITOR}; other=1`,
    });
    expect((await jsonOf(response)).visitorId).toBe(COOKIE_VISITOR);
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('falls back to the body visitorId when the cookie is junk, and sets the cookie', async () => {
    const response = await postJson(stack.app, '/api/event', pageView({ visitorId: BODY_VISITOR }), {
      Cookie: 'visitor_id=not-a-uuid; xvisitor_id=11111111-2222-4333-8444-555555555555',
    });
    expect((await jsonOf(response)).visitorId).toBe(BODY_VISITOR);
    expect(response.headers.get('set-cookie')).toContain(`visitor_id=${BODY_VISITOR};`);
  });

  it('answers CORS preflights for any origin with credentials', async () => {
    const response = await stack.app.request('/api/event', {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-max-age')).toBe('86400');
  });

  it('400: lists every problem, naming each field, and enqueues nothing', async () => {
    const body = await expectNothingEnqueued(
      () => postJson(stack.app, '/api/event', { siteId: '', eventType: 'page_view', path: '/', timestamp: 'soon' }),
      400,
    );
    expect(body).toEqual({
      statusCode: 400,
      message: [
        'siteId should not be empty',
        'timestamp must be a valid ISO 8601 date string with seconds and a UTC offset or Z (e.g. 2024-11-14T10:00:00Z)',
      ],
      error: 'Bad Request',
    });
  });

  it.each([
    ['malformed JSON', '{"siteId": ', 'body must be valid JSON'],
    ['an empty body', '', 'body should not be empty'],
    ['a JSON array', '[]', 'event must be a JSON object'],
  ])('400 for %s', async (_, raw, message) => {
    const body = await expectNothingEnqueued(() => postJson(stack.app, '/api/event', raw), 400);
    expect(body).toEqual({ statusCode: 400, message: [message], error: 'Bad Request' });
  });

  it('413 for a body over the limit, declared or chunked', async () => {
    const big = JSON.stringify(pageView({ props: { blob: 'x'.repeat(400) }, path: `/${'p'.repeat(70_000)}` }));
    const declared = await expectNothingEnqueued(() => postJson(stack.app, '/api/event', big), 413);
    expect(declared).toEqual({
      statusCode: 413,
      message: 'Request body must be at most 65536 bytes',
      error: 'Payload Too Large',
    });

    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(big.slice(i * 8000, (i + 1) * 8000)));
        controller.close();
      },
    });
    const chunked = await expectNothingEnqueued(
      () =>
        Promise.resolve(
          stack.app.request('/api/event', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: chunks,
            duplex: 'half',
          } as RequestInit),
        ),
      413,
    );
    expect(chunked.statusCode).toBe(413);
  });

  it('415 for a form body', async () => {
    const body = await expectNothingEnqueued(
      () =>
        Promise.resolve(
          stack.app.request('/api/event', {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: 'siteId=x',
          }),
        ),
      415,
    );
    expect(body.error).toBe('Unsupported Media Type');
  });

  it('405 with Allow for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await stack.app.request('/api/event', { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST, OPTIONS');
      expect(await jsonOf(response)).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' });
    }
  });

  it('404 in the error shape for unknown routes', async () => {
    const response = await stack.app.request('/api/nope');
    expect(response.status).toBe(404);
    expect(await jsonOf(response)).toEqual({ statusCode: 404, message: 'Cannot GET /api/nope', error: 'Not Found' });
  });
});

describe('visitor cookie options', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      env: { COOKIE_CROSS_SITE: 'true', COOKIE_DOMAIN: 'example.com', ALLOWED_ORIGINS: 'https://a.example' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('adds Secure, SameSite=None and Domain when configured', async () => {
    const response = await postJson(stack.app, '/api/event', pageView());
    expect(response.headers.get('set-cookie')).toMatch(
      /^visitor_id=[0-9a-f-]{36}; Max-Age=31536000; Path=\/; HttpOnly; SameSite=None; Secure; Domain=example.com$/,
    );
  });

  it('answers CORS only for ALLOWED_ORIGINS', async () => {
    const allowed = await postJson(stack.app, '/api/event', pageView(), { Origin: 'https://a.example' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://a.example');
    const other = await postJson(stack.app, '/api/event', pageView(), { Origin: 'https://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
