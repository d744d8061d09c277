/**
 * The bad-input corpus (issue 5): every kind of wrong body the ingestion and
 * stats routes can meet, each answered with the right 4xx in the one error
 * shape and none of it reaching the queue; then, with a worker, the valid
 * events beside invalid ones, hostile strings and unicode stored verbatim; then
 * a property test over arbitrary bodies.
 */
import { errorResponseSchema, eventSchema, LIMITS } from '@tally/shared';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedEvent } from '../src/queue/types.js';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOSTILE_PATH = "/'; DROP TABLE raw_events; --";
const UNICODE_PATH = '/caf\u00e9/\u{1F600}/\u4e2d\u6587/\u05e2\u05d1/\u0001\t\u001f\u007f\u2028\uFEFF';

interface Request {
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  contentType?: string | null;
  headers?: Record<string, string>;
}

function send(stack: TestStack, path: string, { body, contentType = 'application/json', headers = {} }: Request) {
  const allHeaders: Record<string, string> = { ...headers };
  if (contentType !== null) allHeaders['Content-Type'] = contentType;
  return Promise.resolve(
    stack.app.request(path, {
      method: 'POST',
      headers: allHeaders,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

const event = (patch: Record<string, unknown>) => ({ ...pageView(), ...patch });
/** Raw JSON of a page view with `extra` spliced into the object text, for keys `JSON.stringify` cannot write. */
const rawEvent = (extra: string) => `${JSON.stringify(pageView()).slice(0, -1)},${extra}}`;
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString();
const oversized = JSON.stringify(event({ path: `/${'p'.repeat(LIMITS.pathMaxLength - 1)}`, props: { a: 'x' } }));
const overLimit = JSON.stringify({ events: Array(40).fill(JSON.parse(oversized)) });

/** [what, route, request, status, a message the answer must hold]. */
type Case = [string, '/api/event' | '/api/events', Request, number, string];

const eventCases: Case[] = [
  // wrong types
  ['siteId as a number', '/api/event', { body: event({ siteId: 42 }) }, 400, 'siteId must be a string'],
  ['eventType as a boolean', '/api/event', { body: event({ eventType: true }) }, 400, 'eventType must be a string'],
  ['path as null', '/api/event', { body: event({ path: null }) }, 400, 'path must be a string'],
  [
    'timestamp as epoch millis',
    '/api/event',
    { body: event({ timestamp: 1731578400000 }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  ['eventId as a number', '/api/event', { body: event({ eventId: 123 }) }, 400, 'eventId must be a UUID'],
  ['userId as an object', '/api/event', { body: event({ userId: { id: 1 } }) }, 400, 'userId must be a string'],
  ['props as a string', '/api/event', { body: event({ props: 'plan=pro' }) }, 400, 'props must be an object'],
  [
    'a props value that is an object',
    '/api/event',
    { body: event({ props: { nested: { a: 1 } } }) },
    400,
    'props.nested must be a string of at most 500 characters, a finite number or a boolean',
  ],
  [
    'a props value that is null',
    '/api/event',
    { body: event({ props: { gone: null } }) },
    400,
    'props.gone must be a string of at most 500 characters, a finite number or a boolean',
  ],
  // missing and extra fields
  ['an empty object', '/api/event', { body: {} }, 400, 'timestamp should not be empty'],
  [
    'no siteId',
    '/api/event',
    { body: { eventType: 'page_view', path: '/', timestamp: '2024-11-14T10:00:00Z' } },
    400,
    'siteId should not be empty',
  ],
  ['an extra field', '/api/event', { body: event({ admin: true }) }, 400, 'property admin should not exist'],
  ['a snake_case field', '/api/event', { body: event({ site_id: 'x' }) }, 400, 'property site_id should not exist'],
  // empty and huge strings
  ['an empty siteId', '/api/event', { body: event({ siteId: '' }) }, 400, 'siteId should not be empty'],
  ['an empty path', '/api/event', { body: event({ path: '' }) }, 400, 'path should not be empty'],
  [
    'a path of 2049 bytes',
    '/api/event',
    { body: event({ path: `/${'a'.repeat(LIMITS.pathMaxLength)}` }) },
    400,
    'path must be at most 2048 bytes of UTF-8',
  ],
  [
    'an eventType of 65 characters',
    '/api/event',
    { body: event({ eventType: 'e'.repeat(65) }) },
    400,
    'eventType must be at most 64 characters',
  ],
  [
    'a referrer of 2049 characters',
    '/api/event',
    { body: event({ referrer: 'r'.repeat(2049) }) },
    400,
    'referrer must be at most 2048 characters',
  ],
  [
    'a props string of 501 characters',
    '/api/event',
    { body: event({ props: { blob: 'b'.repeat(501) } }) },
    400,
    'props.blob must be at most 500 characters',
  ],
  [
    '31 props',
    '/api/event',
    { body: event({ props: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i])) }) },
    400,
    'props must have at most 30 keys',
  ],
  // invalid UUIDs, dates and timestamps
  [
    'an eventId that is no UUID',
    '/api/event',
    { body: event({ eventId: 'not-a-uuid' }) },
    400,
    'eventId must be a UUID',
  ],
  [
    'an eventId one digit short',
    '/api/event',
    { body: event({ eventId: '550e8400-e29b-41d4-a716-44665544000' }) },
    400,
    'eventId must be a UUID',
  ],
  [
    'a visitorId in braces',
    '/api/event',
    { body: event({ visitorId: '{550e8400-e29b-41d4-a716-446655440000}' }) },
    400,
    'visitorId must be a UUID',
  ],
  [
    'a visitorId with SQL after it',
    '/api/event',
    { body: event({ visitorId: "550e8400-e29b-41d4-a716-446655440000' OR 1=1" }) },
    400,
    'visitorId must be a UUID',
  ],
  [
    'February 30',
    '/api/event',
    { body: event({ timestamp: '2024-02-30T10:00:00Z' }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  [
    'month 13',
    '/api/event',
    { body: event({ timestamp: '2024-13-01T10:00:00Z' }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  [
    'a timestamp without a zone',
    '/api/event',
    { body: event({ timestamp: '2024-11-14T10:00:00' }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  [
    'a leap second',
    '/api/event',
    { body: event({ timestamp: '2024-12-31T23:59:60Z' }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  [
    'a word for a timestamp',
    '/api/event',
    { body: event({ timestamp: 'yesterday' }) },
    400,
    'timestamp must be a valid ISO 8601 date string',
  ],
  [
    'a UTC offset PostgreSQL refuses',
    '/api/event',
    { body: event({ timestamp: '2024-11-14T10:00:00+23:00' }) },
    400,
    'timestamp must have a UTC offset between -14:00 and +14:00',
  ],
  [
    'a timestamp 25 hours ahead',
    '/api/event',
    { body: event({ timestamp: inFuture(25 * 3_600_000) }) },
    400,
    'timestamp must not be more than 24 hours in the future',
  ],
  [
    'a timestamp in the year 9999',
    '/api/event',
    { body: event({ timestamp: '9999-12-31T23:59:59Z' }) },
    400,
    'timestamp must not be more than 24 hours in the future',
  ],
  [
    'a timestamp before 1970',
    '/api/event',
    { body: event({ timestamp: '1900-01-01T00:00:00Z' }) },
    400,
    'timestamp must not be before 1970-01-01',
  ],
  // arrays for objects
  ['a JSON array body', '/api/event', { body: [pageView()] }, 400, 'event must be a JSON object'],
  ['props as an array', '/api/event', { body: event({ props: ['a', 'b'] }) }, 400, 'props must be an object'],
  ['a JSON string body', '/api/event', { body: '"page_view"' }, 400, 'event must be a JSON object'],
  ['a JSON null body', '/api/event', { body: 'null' }, 400, 'event must be a JSON object'],
  // prototype keys
  [
    'a __proto__ key in the body',
    '/api/event',
    { body: rawEvent('"__proto__": {"admin": true}') },
    400,
    'property __proto__ should not exist',
  ],
  [
    'a constructor key in the body',
    '/api/event',
    { body: rawEvent('"constructor": {"prototype": {"admin": true}}') },
    400,
    'property constructor should not exist',
  ],
  [
    'a __proto__ key in props',
    '/api/event',
    { body: rawEvent('"props": {"__proto__": {"admin": true}}') },
    400,
    'props keys must not be __proto__',
  ],
  // control characters and broken unicode
  [
    'NUL in the path',
    '/api/event',
    { body: event({ path: '/a\u0000b' }) },
    400,
    'path must not contain the NUL character (\\u0000)',
  ],
  [
    'NUL in the siteId',
    '/api/event',
    { body: event({ siteId: 'site\u0000' }) },
    400,
    'siteId must contain only letters, digits and _ . : -',
  ],
  [
    'NUL in a props value',
    '/api/event',
    { body: event({ props: { plan: '\u0000' } }) },
    400,
    'props.plan must not contain NUL (\\u0000) or unpaired surrogates',
  ],
  [
    'NUL in a props key',
    '/api/event',
    { body: event({ props: { 'a\u0000': 1 } }) },
    400,
    'props keys must not contain NUL (\\u0000) or unpaired surrogates',
  ],
  [
    'an escaped NUL in raw JSON',
    '/api/event',
    { body: rawEvent('"userId": "u\\u0000"') },
    400,
    'userId must not contain the NUL character (\\u0000)',
  ],
  [
    'an unpaired surrogate in the path',
    '/api/event',
    { body: rawEvent('"referrer": "\\ud800"') },
    400,
    'referrer must be valid Unicode (no unpaired surrogates)',
  ],
  // hostile siteId values
  [
    'SQL in the siteId',
    '/api/event',
    { body: event({ siteId: "x'; DROP TABLE raw_events; --" }) },
    400,
    'siteId must contain only letters, digits and _ . : -',
  ],
  [
    'a path-traversal siteId',
    '/api/event',
    { body: event({ siteId: '../../etc/passwd' }) },
    400,
    'siteId must contain only letters, digits and _ . : -',
  ],
  [
    'markup in the siteId',
    '/api/event',
    { body: event({ siteId: '<script>alert(1)</script>' }) },
    400,
    'siteId must contain only letters, digits and _ . : -',
  ],
  // bodies and content types
  ['an empty body', '/api/event', { body: '' }, 400, 'body should not be empty'],
  ['a body of whitespace', '/api/event', { body: ' \n\t ' }, 400, 'body should not be empty'],
  ['no body at all', '/api/event', {}, 400, 'body should not be empty'],
  ['malformed JSON', '/api/event', { body: '{"siteId": "a",' }, 400, 'body must be valid JSON'],
  ['JSON with trailing garbage', '/api/event', { body: `${oversized.slice(0, 50)}}}` }, 400, 'body must be valid JSON'],
  ['single-quoted pseudo-JSON', '/api/event', { body: "{'siteId': 'a'}" }, 400, 'body must be valid JSON'],
  [
    'a form body',
    '/api/event',
    { body: 'siteId=a&path=/', contentType: 'application/x-www-form-urlencoded' },
    415,
    'Content-Type application/x-www-form-urlencoded is not supported',
  ],
  [
    'a multipart body',
    '/api/event',
    { body: '--x\r\n\r\n--x--', contentType: 'multipart/form-data; boundary=x' },
    415,
    'is not supported; send application/json or text/plain',
  ],
  [
    'an XML body',
    '/api/event',
    { body: '<event/>', contentType: 'application/xml' },
    415,
    'Content-Type application/xml is not supported',
  ],
  [
    'a lookalike JSON type',
    '/api/event',
    { body: pageView(), contentType: 'application/jsonp' },
    415,
    'Content-Type application/jsonp is not supported',
  ],
  ['a body over the limit', '/api/event', { body: overLimit }, 413, 'Request body must be at most 65536 bytes'],
  // batches
  [
    'a batch of 101 events',
    '/api/events',
    { body: { events: Array(101).fill(pageView()) } },
    400,
    'events must contain at most 100 events',
  ],
  ['an empty batch', '/api/events', { body: { events: [] } }, 400, 'events should not be empty'],
  ['a batch with no events field', '/api/events', { body: {} }, 400, 'events must be an array'],
  ['events as an object', '/api/events', { body: { events: { 0: pageView() } } }, 400, 'events must be an array'],
  ['a bare array of events', '/api/events', { body: [pageView()] }, 400, 'body must be a JSON object'],
  [
    'an extra envelope field',
    '/api/events',
    { body: { events: [pageView()], siteId: 'x' } },
    400,
    'property siteId should not exist',
  ],
  [
    'a __proto__ envelope key',
    '/api/events',
    { body: `{"events": [${JSON.stringify(pageView())}], "__proto__": {"admin": true}}` },
    400,
    'property __proto__ should not exist',
  ],
  [
    'a batch with nothing valid',
    '/api/events',
    { body: { events: [event({ siteId: '' }), event({ path: '/\u0000' })] } },
    400,
    'events.1.path must not contain the NUL character (\\u0000)',
  ],
  [
    'a batch of non-objects',
    '/api/events',
    { body: { events: [null, 1, 'x', []] } },
    400,
    'events.3.event must be a JSON object',
  ],
  ['a batch over the limit', '/api/events', { body: overLimit }, 413, 'Request body must be at most 65536 bytes'],
  ['an empty batch body', '/api/events', { body: '' }, 400, 'body should not be empty'],
];

describe('the bad-input corpus (no worker: whatever is enqueued stays waiting)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const waiting = async () => (await stack.queue.counts()).waiting;

  it.each(eventCases)('%s → %s %i', async (_what, route, request, status, message) => {
    const before = await waiting();
    const response = await send(stack, route, request);
    const body = await jsonOf(response);
    expect(response.status).toBe(status);
    expect(errorResponseSchema.strict().parse(body).statusCode).toBe(status);
    expect(([] as string[]).concat(body.message as string | string[]).some((m) => m.includes(message))).toBe(true);
    expect(await waiting()).toBe(before);
  });

  it('413 for a chunked body over the limit on both routes, with nothing enqueued', async () => {
    for (const route of ['/api/event', '/api/events']) {
      const before = await waiting();
      const bytes = new TextEncoder().encode(overLimit);
      const body = new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 4096) controller.enqueue(bytes.slice(at, at + 4096));
          controller.close();
        },
      });
      const response = await stack.app.request(route, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(await jsonOf(response)).toEqual({
        statusCode: 413,
        message: 'Request body must be at most 65536 bytes',
        error: 'Payload Too Large',
      });
      expect(await waiting()).toBe(before);
    }
  });

  it.each([
    ['not a UUID', 'visitor_id=not-a-uuid'],
    ['a UUID with a tail', 'visitor_id=11111111-2222-4333-8444-555555555555x'],
    ['a quoted UUID', 'visitor_id="11111111-2222-4333-8444-555555555555"'],
    ['SQL', "visitor_id=' OR 1=1 --"],
    ['path traversal', 'visitor_id=../../etc/passwd'],
    ['a huge value', `visitor_id=${'9'.repeat(4000)}`],
    ['only a lookalike name', 'xvisitor_id=11111111-2222-4333-8444-555555555555'],
    ['an empty value', 'visitor_id='],
  ])('ignores a junk visitor_id cookie (%s): new visitor, fresh cookie, still 202', async (_what, cookie) => {
    const response = await postJson(stack.app, '/api/event', pageView(), { Cookie: cookie });
    expect(response.status).toBe(202);
    const { visitorId } = await jsonOf(response);
    expect(visitorId).toMatch(UUID);
    expect(visitorId).not.toBe('11111111-2222-4333-8444-555555555555');
    expect(response.headers.get('set-cookie')).toContain(`visitor_id=${visitorId};`);
  });

  it.each([
    [
      'SQL in siteId',
      "siteId=x'%20OR%201%3D1--&date=2024-11-14",
      'siteId must contain only letters, digits and _ . : -',
    ],
    ['siteId twice', 'siteId=a&siteId=b&date=2024-11-14', 'siteId'],
    ['a date with SQL', "siteId=a&date=2024-11-14'%3B--", 'date must be a date in YYYY-MM-DD format'],
    ['a limit of 1e9', 'siteId=a&date=2024-11-14&limit=1000000000', 'limit must be at most 100'],
    ['a negative limit', 'siteId=a&date=2024-11-14&limit=-1', 'limit must be at least 1'],
    ['NUL in eventType', 'siteId=a&date=2024-11-14&eventType=%00', 'eventType'],
  ])('stats: 400 for %s', async (_what, query, message) => {
    const response = await stack.app.request(`/api/stats?${query}`);
    expect(response.status).toBe(400);
    const body = errorResponseSchema.parse(await jsonOf(response));
    expect(([] as string[]).concat(body.message).some((m) => m.includes(message))).toBe(true);
  });
});

describe('what the corpus lets through is stored exactly as sent', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts the valid events of a mixed batch, stores hostile strings and unicode verbatim, executes nothing', async () => {
    const siteId = 'corpus_site';
    const at = (path: string, patch: Record<string, unknown> = {}) => ({ ...pageView({ siteId, path }), ...patch });
    const response = await postJson(stack.app, '/api/events', {
      events: [
        at(HOSTILE_PATH),
        at('/nul\u0000'),
        at(UNICODE_PATH, {
          props: JSON.parse('{"constructor": "c", "toString": "\\u00e9\\u{1F600}"}'.replace('\\u{1F600}', '\u{1F600}')),
        }),
        at('/bad-date', { timestamp: '2024-02-30T10:00:00Z' }),
        at("/robert'); DELETE FROM site_daily_aggregates; --", { referrer: "'; TRUNCATE raw_events; --" }),
        { ...at('/extra'), isAdmin: true },
      ],
    });
    expect(response.status).toBe(202);
    const receipt = await jsonOf(response);
    expect(receipt.accepted).toBe(3);
    expect((receipt.rejected as { index: number }[]).map((r) => r.index)).toEqual([1, 3, 5]);

    await stack.drain();
    expect((await stack.queue.counts()).failed).toBe(0);

    const stats = await jsonOf(await stack.app.request(`/api/stats?siteId=${siteId}&date=2024-11-14`));
    expect(stats.totalViews).toBe(3);
    expect((stats.topPaths as { path: string }[]).map((p) => p.path).sort()).toEqual(
      [HOSTILE_PATH, UNICODE_PATH, "/robert'); DELETE FROM site_daily_aggregates; --"].sort(),
    );

    const rows = await stack.query<{ path: string; referrer: string | null; props: unknown }>(
      'SELECT path, referrer, props FROM raw_events WHERE site_id = $1 ORDER BY path',
      [siteId],
    );
    expect(rows.map((row) => row.path).sort()).toEqual(
      [HOSTILE_PATH, UNICODE_PATH, "/robert'); DELETE FROM site_daily_aggregates; --"].sort(),
    );
    const unicodeRow = rows.find((row) => row.path === UNICODE_PATH);
    expect(unicodeRow?.props).toEqual({ constructor: 'c', toString: '\u00e9\u{1F600}' });
    expect(rows.find((row) => row.path.startsWith('/robert'))?.referrer).toBe("'; TRUNCATE raw_events; --");
    // The tables the hostile strings named are all still there.
    const [tables] = await stack.query<{ count: string }>(
      "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('raw_events', 'site_daily_aggregates')",
    );
    expect(Number(tables?.count)).toBe(2);
  });
});

/** Pieces that break parsers and databases, mixed into otherwise plausible values. */
const nastyText = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\u2028', '\uFEFF', '"', '\\', "'", ';', '%'),
    },
  ),
  maxLength: 40,
});
const anyValue = fc.oneof(nastyText, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('__proto__', 'constructor'));
const validTimestamp = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date(Date.now() + 23 * 3_600_000), noInvalidDate: true })
  .map((date) => date.toISOString());
const maybe = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 10, arbitrary: valid }, { weight: 1, arbitrary: anyValue });
const plainText = fc.string({ unit: 'grapheme', maxLength: 30 });

/** Mostly plausible events, each field sometimes replaced by something hostile; extra and prototype keys sometimes. */
const fuzzedEvent = fc
  .record(
    {
      siteId: maybe(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/)),
      eventType: maybe(fc.constantFrom('page_view', 'click', 'signup')),
      path: maybe(plainText.map((text) => `/${text}`)),
      timestamp: maybe(validTimestamp),
      eventId: maybe(fc.uuid()),
      visitorId: maybe(fc.uuid()),
      userId: maybe(plainText),
      referrer: maybe(plainText),
      props: maybe(
        fc.dictionary(
          fc.oneof(
            { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
            { weight: 1, arbitrary: anyValue.map(String) },
          ),
          fc.oneof(
            {
              weight: 4,
              arbitrary: fc.oneof(plainText, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
            },
            { weight: 1, arbitrary: anyValue },
          ),
          { maxKeys: 4 },
        ),
      ),
    },
    { requiredKeys: ['siteId', 'eventType', 'path', 'timestamp'] },
  )
  .chain((base) =>
    fc
      .oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.oneof(nastyText, fc.constantFrom('__proto__', 'constructor', 'prototype')), anyValue),
        },
      )
      .map((extra) => {
        const text = JSON.stringify(base);
        if (!extra) return text;
        // Spliced as text so that `__proto__` arrives as an own key, as it would from a real client.
        return `${text.slice(0, -1)},${JSON.stringify(extra[0])}:${JSON.stringify(extra[1])}}`;
      }),
  );

const fuzzedRequest = fc.oneof(
  fuzzedEvent.map((body) => ({ route: '/api/event', body })),
  fc
    .array(fuzzedEvent, { maxLength: 6 })
    .map((events) => ({ route: '/api/events', body: `{"events":[${events.join(',')}]}` })),
  fc
    .jsonValue({ maxDepth: 3 })
    .chain((value) =>
      fc.constantFrom('/api/event', '/api/events').map((route) => ({ route, body: JSON.stringify(value) ?? 'null' })),
    ),
  fc.tuple(fc.constantFrom('/api/event', '/api/events'), nastyText).map(([route, body]) => ({ route, body })),
  fc
    .tuple(fc.constantFrom('/api/event', '/api/events'), fc.string({ unit: 'binary' }))
    .map(([route, body]) => ({ route, body })),
);

describe('property: arbitrary bodies', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('never produce a 5xx, answer 4xx in the error shape, and enqueue only events the worker can store', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fuzzedRequest,
        fc.constantFrom('application/json', 'text/plain;charset=UTF-8'),
        async (request, type) => {
          const response = await send(stack, request.route, { body: request.body, contentType: type });
          expect(response.status).toBeLessThan(500);
          if (response.status === 202) {
            accepted += 1;
            return;
          }
          expect(response.status).toBeGreaterThanOrEqual(400);
          const body = errorResponseSchema.strict().parse(await response.json());
          expect(body.statusCode).toBe(response.status);
        },
      ),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(10); // the generator reaches the queue, not only the validator

    const jobs = await stack.queue.queue.getJobs(['waiting']);
    const queued: QueuedEvent[] = jobs.flatMap((job) => job.data.events);
    expect(queued.length).toBeGreaterThanOrEqual(accepted);
    // What enrichment derived (SPEC §10) is not part of the wire event; the rest must still be a valid one.
    const derived = [
      'source',
      'channel',
      'referrerDomain',
      'device',
      'browser',
      'browserVersion',
      'os',
      'osVersion',
      'country',
      'region',
      'city',
    ];
    for (const { receivedAt, visitorId, eventId, ...queuedRest } of queued) {
      const rest = Object.fromEntries(Object.entries(queuedRest).filter(([key]) => !derived.includes(key)));
      expect(eventSchema.safeParse({ ...rest, eventId, visitorId }).success, JSON.stringify(rest)).toBe(true);
      expect(eventId).toMatch(UUID);
      expect(visitorId).toMatch(UUID);
      expect(typeof receivedAt).toBe('number');
    }

    // And the worker stores every one of them: no job fails on what validation let through.
    stack.startWorker();
    await stack.drain();
    expect((await stack.queue.counts()).failed).toBe(0);
    const [stored] = await stack.query<{ count: string }>('SELECT count(*) FROM raw_events');
    expect(Number(stored?.count)).toBe(new Set(queued.map((event) => event.eventId)).size);
  });
});
