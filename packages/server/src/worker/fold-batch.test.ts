import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type DatabaseHandle, queryRows } from '../db/client.js';
import type { QueuedEvent } from '../queue/types.js';
import { columnValues, encodeEvents, foldBatch, foldEncoded } from './fold-batch.js';

let n = 0;
function event(overrides: Partial<QueuedEvent> = {}): QueuedEvent {
  n += 1;
  return {
    eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    visitorId: 'aaaaaaaa-0000-4000-8000-000000000001',
    siteId: 'fold_site',
    eventType: 'page_view',
    path: '/',
    timestamp: '2024-11-14T10:00:00Z',
    receivedAt: Date.parse('2024-11-14T10:00:01Z'),
    ...overrides,
  };
}

describe('foldBatch', () => {
  let testDatabase: TestDatabase;
  let database: DatabaseHandle;
  const rows = (text: string) => queryRows(database.db, sql.raw(text));

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = connectPostgres(testDatabase.url, 4);
  });
  beforeEach(async () => {
    await database.db.execute(
      'truncate raw_events, site_daily_aggregates, site_daily_path_counts, site_daily_unique_users, site_daily_event_counts, site_daily_event_visitors, visits, site_daily_rollups',
    );
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  it('stores raw events with every column and counts them', async () => {
    const stored = event({
      userId: 'user-1',
      referrer: 'https://ref.example/',
      props: { plan: 'pro', seats: 2, ok: true },
    });
    expect(await foldBatch(database.db, [stored])).toEqual({ inserted: 1, duplicates: 0 });
    expect(
      await rows(
        "select event_id, site_id, event_type, path, user_id, visitor_id, to_char(event_ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as event_ts, to_char(ingestion_ts at time zone 'UTC', 'HH24:MI:SS') as ingested, event_date::text, referrer, props from raw_events",
      ),
    ).toEqual([
      {
        event_id: stored.eventId,
        site_id: 'fold_site',
        event_type: 'page_view',
        path: '/',
        user_id: 'user-1',
        visitor_id: stored.visitorId,
        event_ts: '2024-11-14 10:00:00',
        ingested: '10:00:01',
        event_date: '2024-11-14',
        referrer: 'https://ref.example/',
        props: { plan: 'pro', seats: 2, ok: true },
      },
    ]);
    expect(await rows('select user_id, visitor_id from site_daily_unique_users')).toEqual([
      { user_id: 'user-1', visitor_id: stored.visitorId },
    ]);
  });

  it('folds several jobs as one, each column padded for the jobs that lack it, whole or by visitor part', async () => {
    const visitor = (i: number) => `bbbbbbbb-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    for (const partitionMinEvents of [Number.POSITIVE_INFINITY, 1]) {
      await database.db.execute('truncate raw_events, visits, site_daily_aggregates');
      const withReferrer = Array.from({ length: 3 }, (_, i) =>
        event({ visitorId: visitor(i), referrer: `https://r${i}.example/`, props: { n: i } }),
      );
      const bare = Array.from({ length: 4 }, (_, i) => event({ visitorId: visitor(10 + i) }));
      const jobs = [encodeEvents(withReferrer), encodeEvents([]), encodeEvents(bare)];
      // Both visitor parts hold events, so a fold by part joins pieces of both jobs in each.
      expect(new Set(jobs.flatMap((job) => job.parts.map((part, p) => (part.count > 0 ? p : -1))))).toEqual(
        new Set([-1, 0, 1]),
      );
      expect(await foldEncoded(database.db, jobs, undefined, { partitionMinEvents })).toEqual({
        inserted: 7,
        duplicates: 0,
      });
      const stored = await rows('select event_id, referrer, props from raw_events order by event_id');
      expect(stored).toEqual(
        [...withReferrer, ...bare]
          .map((e) => ({ event_id: e.eventId, referrer: e.referrer ?? null, props: e.props ?? null }))
          .sort((a, b) => a.event_id.localeCompare(b.event_id)),
      );
      expect(await rows('select count(*)::int as visits from visits')).toEqual([{ visits: 7 }]);
    }
  });

  it('counts an event once however often it is folded, in one batch or many', async () => {
    const once = event();
    expect(await foldBatch(database.db, [once, once, once])).toEqual({ inserted: 1, duplicates: 2 });
    expect(await foldBatch(database.db, [once])).toEqual({ inserted: 0, duplicates: 1 });
    expect(await rows('select total_views::int, unique_users::int from site_daily_aggregates')).toEqual([
      { total_views: 1, unique_users: 1 },
    ]);
    expect(await rows('select views::int from site_daily_path_counts')).toEqual([{ views: 1 }]);
    expect(await rows('select events::int from site_daily_event_counts')).toEqual([{ events: 1 }]);
  });

  it('buckets by the UTC date, whatever offset the timestamp carries', async () => {
    await foldBatch(database.db, [
      // 23:30 in New York on the 13th is 04:30 UTC on the 14th.
      event({ timestamp: '2024-11-13T23:30:00-05:00', visitorId: 'aaaaaaaa-0000-4000-8000-00000000000a' }),
      // 00:30 in Berlin on the 15th is 23:30 UTC on the 14th.
      event({ timestamp: '2024-11-15T00:30:00+01:00', visitorId: 'aaaaaaaa-0000-4000-8000-00000000000a' }),
      // 23:59:59.999 UTC stays on the 14th; one millisecond later is the 15th.
      event({ timestamp: '2024-11-14T23:59:59.999Z' }),
      event({ timestamp: '2024-11-15T00:00:00.000Z' }),
      // 05:00 on the 15th in Kolkata is 23:30 UTC on the 14th.
      event({ timestamp: '2024-11-15T05:00:00+05:30' }),
    ]);
    expect(
      await rows('select date::text, total_views::int, unique_users::int from site_daily_aggregates order by date'),
    ).toEqual([
      { date: '2024-11-14', total_views: 4, unique_users: 2 },
      { date: '2024-11-15', total_views: 1, unique_users: 1 },
    ]);
  });

  it('counts a visitor once per site and day, across batches', async () => {
    const visitor = 'bbbbbbbb-0000-4000-8000-000000000001';
    await foldBatch(database.db, [event({ visitorId: visitor }), event({ visitorId: visitor, path: '/a' })]);
    await foldBatch(database.db, [event({ visitorId: visitor, path: '/b' })]);
    await foldBatch(database.db, [event({ visitorId: visitor, siteId: 'other_site' })]);
    expect(
      await rows('select site_id, total_views::int, unique_users::int from site_daily_aggregates order by site_id'),
    ).toEqual([
      { site_id: 'fold_site', total_views: 3, unique_users: 1 },
      { site_id: 'other_site', total_views: 1, unique_users: 1 },
    ]);
  });

  it('puts a visit that crosses midnight on both days, whichever days its stored part already covers', async () => {
    // One visit, an event a batch: a page view late on the 14th, a click after midnight, page views on the 15th.
    // Each day's ledgers must hold the visitor, with the types seen that day, whatever the stored visit spans.
    const visitor = 'dddddddd-0000-4000-8000-000000000001';
    const at = (timestamp: string, eventType = 'page_view') =>
      event({ visitorId: visitor, timestamp, receivedAt: Date.parse(timestamp) + 1_000, eventType });
    await foldBatch(database.db, [at('2024-11-14T23:50:00Z')]);
    await foldBatch(database.db, [at('2024-11-15T00:05:00Z', 'click')]);
    await foldBatch(database.db, [at('2024-11-15T00:10:00Z')]);
    await foldBatch(database.db, [at('2024-11-15T00:20:00Z')]);
    expect(await rows('select count(*)::int as visits, max(events)::int as events from visits')).toEqual([
      { visits: 1, events: 4 },
    ]);
    expect(
      await rows('select date::text, total_views::int, unique_users::int from site_daily_aggregates order by date'),
    ).toEqual([
      { date: '2024-11-14', total_views: 1, unique_users: 1 },
      { date: '2024-11-15', total_views: 3, unique_users: 1 },
    ]);
    expect(
      await rows("select date::text || ' ' || event_type as day from site_daily_event_visitors order by 1"),
    ).toEqual([{ day: '2024-11-14 page_view' }, { day: '2024-11-15 click' }, { day: '2024-11-15 page_view' }]);
  });

  it('finds the visits an event touches among a returning visitor’s many, newest or in between', async () => {
    // Six earlier visits two hours apart; the fold reads only the latest ones that can reach the new events.
    const visitor = 'eeeeeeee-0000-4000-8000-000000000001';
    const at = (timestamp: string) =>
      event({ visitorId: visitor, timestamp, receivedAt: Date.parse(timestamp) + 1_000 });
    const hours = [0, 2, 4, 6, 8, 10].map((h) => `2024-11-14T${String(h).padStart(2, '0')}:00:00Z`);
    await foldBatch(database.db, hours.map(at));
    const visits = () =>
      rows(
        "select to_char(started_at at time zone 'UTC', 'HH24:MI') || '-' || to_char(ended_at at time zone 'UTC', 'HH24:MI') || ' ' || events as v from visits order by started_at",
      );
    // Joins the newest visit: one new event, one visit within the timeout.
    await foldBatch(database.db, [at('2024-11-14T10:20:00Z')]);
    // Falls between two old visits (an hour from the visits at 04:00 and 06:00): a visit alone.
    await foldBatch(database.db, [at('2024-11-14T05:00:00Z')]);
    // Two events that bridge 00:00 and 02:00 (each within 30 minutes of the next): the visits merge.
    await foldBatch(database.db, [
      at('2024-11-14T00:25:00Z'),
      at('2024-11-14T00:50:00Z'),
      at('2024-11-14T01:15:00Z'),
      at('2024-11-14T01:40:00Z'),
    ]);
    expect(await visits()).toEqual([
      { v: '00:00-02:00 6' },
      { v: '04:00-04:00 1' },
      { v: '05:00-05:00 1' },
      { v: '06:00-06:00 1' },
      { v: '08:00-08:00 1' },
      { v: '10:00-10:20 2' },
    ]);
  });

  it('keeps per-event-type counts and visitors', async () => {
    await foldBatch(database.db, [
      event({ eventType: 'signup', path: '/join' }),
      event({ eventType: 'signup', path: '/join', visitorId: 'cccccccc-0000-4000-8000-000000000001' }),
      event({ eventType: 'click', path: '/join' }),
    ]);
    expect(
      await rows('select event_type, path, events::int from site_daily_event_counts order by event_type, path'),
    ).toEqual([
      { event_type: 'click', path: '/join', events: 1 },
      { event_type: 'signup', path: '/join', events: 2 },
    ]);
    expect(
      await rows('select event_type, count(*)::int as visitors from site_daily_event_visitors group by 1 order by 1'),
    ).toEqual([
      { event_type: 'click', visitors: 1 },
      { event_type: 'signup', visitors: 2 },
    ]);
  });

  it('stores values exactly that array literals would read otherwise: quotes, backslashes, braces, commas, white space, empty, NULL, any UTF-8', async () => {
    const tricky = event({
      path: '/a"b\\c,{d}',
      userId: 'NULL',
      referrer: '"',
      utmCampaign: '\\',
      utmTerm: ' padded ',
      utmContent: '',
      language: 'null',
      city: 'São Paulo, "SP"',
      region: '東京都 😀',
      props: { 'k"ey': 'va\\lue,{}' },
    });
    // The second event has none of those fields: its columns stay NULL, not the first event's values.
    const plain = event({ visitorId: 'dddddddd-0000-4000-8000-000000000001' });
    await foldBatch(database.db, [tricky, plain]);
    expect(
      await rows(
        'select path, user_id, referrer, utm_campaign, utm_term, utm_content, language, city, region, props from raw_events order by event_id',
      ),
    ).toEqual([
      {
        path: tricky.path,
        user_id: 'NULL',
        referrer: '"',
        utm_campaign: '\\',
        utm_term: ' padded ',
        utm_content: '',
        language: 'null',
        city: 'São Paulo, "SP"',
        region: '東京都 😀',
        props: { 'k"ey': 'va\\lue,{}' },
      },
      {
        path: '/',
        user_id: null,
        referrer: null,
        utm_campaign: null,
        utm_term: null,
        utm_content: null,
        language: null,
        city: null,
        region: null,
        props: null,
      },
    ]);
  });

  it('compares index keys byte by byte, whatever the database locale', async () => {
    const keys = await queryRows<{ collname: string }>(
      database.db,
      sql.raw(`
      select c.relname as table_name, a.attname as column_name, l.collname
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_collation l on l.oid = a.attcollation
      where c.relname in ('raw_events', 'visits', 'site_daily_rollups', 'site_daily_unique_users')
        and a.attname in ('site_id', 'visitor_id', 'path', 'dimension', 'value')
      order by 1, 2`),
    );
    expect(keys.length).toBe(10);
    expect(keys.filter((key) => key.collname !== 'C')).toEqual([]);
  });

  it('does nothing for an empty batch', async () => {
    expect(await foldBatch(database.db, [])).toEqual({ inserted: 0, duplicates: 0 });
  });
});

describe('columnValues', () => {
  const events = (values: unknown[]) => values.map((path) => ({ path }) as unknown as QueuedEvent);

  it('quotes every value and escapes only quotes and backslashes', () => {
    expect(columnValues(events(['/a', 'a"b', 'c\\d', 'NULL', '{,}']), 'path')).toBe(
      '"/a","a\\"b","c\\\\d","NULL","{,}"',
    );
  });

  it('sends what is no string as its JSON text, and json columns always as JSON', () => {
    expect(columnValues(events([7, true, { a: 1 }]), 'path')).toBe('"7","true","{\\"a\\":1}"');
    expect(columnValues(events(['x']), 'path', { json: true })).toBe('"\\"x\\""');
  });

  it('answers null for a column no event has, unless asked to keep it', () => {
    expect(columnValues(events([undefined, null]), 'path')).toBeNull();
    expect(columnValues(events([undefined, 'x']), 'path')).toBe('NULL,"x"');
    expect(columnValues(events([undefined]), 'path', { keepEmpty: true })).toBe('NULL');
  });
});
