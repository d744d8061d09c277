/**
 * One poison event among innocent ones (issue "Hardening", item 1): group
 * commit puts concurrent requests into one job and concurrent jobs into one
 * fold, so an event PostgreSQL refuses must be isolated (bisection) and
 * parked, never take its neighbours down with it.
 */
import { randomUUID } from 'node:crypto';
import { LIMITS } from '@tally/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedEvent } from '../src/queue/types.js';
import { pageView, postJson, startTestStack, type TestStack } from './support.js';

/** `n` random CJK characters: 3 bytes each in UTF-8, and incompressible (PostgreSQL compresses long index entries). */
const cjk = (n: number) =>
  Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000))).join('');

const queued = (overrides: Partial<QueuedEvent>): QueuedEvent => ({
  eventId: randomUUID(),
  visitorId: randomUUID(),
  siteId: 'innocent',
  eventType: 'page_view',
  path: '/',
  timestamp: '2024-11-14T10:00:00.000Z',
  receivedAt: Date.now(),
  ...overrides,
});

describe('a poison event among innocent ones', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('1 poison request among 40 innocent ones, 5 times over: all 200 innocent events counted, the poison parked', async () => {
    for (let round = 0; round < 5; round++) {
      // 2048 characters of CJK: 6 KiB of UTF-8, over PostgreSQL's btree entry limit. The schema
      // refuses it now, so it comes in behind the API, into the same group commit as the requests.
      const poison = queued({ siteId: 'innocent', path: `/${cjk(2047)}` });
      const responses = await Promise.all([
        ...Array.from({ length: 40 }, (_, i) =>
          postJson(stack.app, '/api/event', pageView({ siteId: 'innocent', path: `/r${round}/${i}` })),
        ),
        stack.queue.enqueueEvents([poison]).then(() => ({ status: 202 })),
      ]);
      expect(responses.map((response) => response.status)).toEqual(Array(41).fill(202));
    }
    await stack.drain(60_000);

    const [row] = await stack.query<{ total_views: number }>(
      "select total_views::int from site_daily_aggregates where site_id = 'innocent'",
    );
    expect(row?.total_views).toBe(200);
    const parked = await stack.query<{ sql_state: string; error: string; site: string; bytes: number }>(
      "select sql_state, error, event->>'siteId' as site, octet_length(event->>'path') as bytes from parked_events",
    );
    expect(parked).toHaveLength(5);
    for (const event of parked) {
      expect(event).toMatchObject({ sql_state: '54000', site: 'innocent', bytes: 1 + 2047 * 3 });
      expect(event.error).toMatch(/index row size|exceeds/i);
    }
    expect((await stack.queue.counts()).failed).toBe(0);
    const metrics = await (await stack.app.request('/metrics')).text();
    expect(metrics).toContain('tally_events_parked_total 5');
    expect(metrics).toContain('tally_parked_events 5');
  });

  it('parks what PostgreSQL refuses for other reasons, and folds an event at every limit', async () => {
    const widest = queued({
      siteId: 's'.repeat(LIMITS.siteIdMaxLength),
      eventType: cjk(LIMITS.eventTypeMaxLength),
      path: `/${cjk(682)}x`, // 2048 bytes of UTF-8, the most the schema takes
      userId: cjk(LIMITS.userIdMaxLength),
    });
    const badId = queued({ siteId: 'others', eventId: 'not-a-uuid' });
    const nul = queued({ siteId: 'others', path: '/nul\u0000' });
    const fine = queued({ siteId: 'others', path: '/fine' });
    await stack.queue.enqueueEvents([widest, badId, nul, fine]);
    await stack.drain(30_000);

    const stored = await stack.query<{ path: string }>(
      `select path from raw_events where site_id in ('others', '${widest.siteId}') order by path`,
    );
    expect(stored.map((row) => row.path)).toEqual(['/fine', widest.path]);
    // Not `event->>…` here: decoding the NUL event's JSON is what PostgreSQL refuses; `event::text` shows it.
    const parked = await stack.query<{ event_id: string; sql_state: string }>(
      'select event_id, sql_state from parked_events where event_id = any($1) order by sql_state',
      [[nul.eventId, 'not-a-uuid']],
    );
    // A NUL byte is not valid text in PostgreSQL (22021); an id that is no UUID is bad input syntax (22P02).
    expect(parked).toEqual([
      { event_id: nul.eventId, sql_state: '22021' },
      { event_id: 'not-a-uuid', sql_state: '22P02' },
    ]);
  });
});
