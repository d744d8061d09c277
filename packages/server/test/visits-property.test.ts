/**
 * SPEC §11, exactly-once for visits: events delivered shuffled, duplicated and
 * split into batches folded by concurrent workers (whole, or cut into visitor parts) give exactly the visits and
 * rollups that a plain in-memory model computes from the same events in order
 * — for several visitors, a site in America/New_York across the March DST
 * change, gaps around the 30-minute timeout, and events arriving over 48 h late.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, type DatabaseHandle } from '../src/db/client.js';
import type { QueuedEvent } from '../src/queue/types.js';
import { foldBatch } from '../src/worker/fold-batch.js';
import { DEFAULT_VISIT_RULES, VISIT_DIMENSIONS } from '../src/worker/visits.js';
import { createTestDatabase, type TestDatabase } from './support.js';

const TIMEOUT_MS = 30 * 60_000;
const LATE_MS = 48 * 3_600_000;
const SITES = { ny: 'America/New_York', utc: 'UTC' } as const;
/** 2024-03-10 is 23 hours long in New York; start the evening before. */
const BASE = Date.parse('2024-03-09T22:00:00Z');

const localDate = (ms: number, timeZone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);

interface Visit {
  site_id: string;
  visitor_id: string;
  started_at: number;
  ended_at: number;
  date: string;
  events: number;
  pageviews: number;
  entry_page: string;
  exit_page: string | null;
  source: string | null;
  channel: string | null;
  country: string | null;
  device: string | null;
}

/** The plain model: sort a visitor's on-time events, cut at gaps over 30 minutes. */
function referenceVisits(events: QueuedEvent[]): Visit[] {
  const groups = new Map<string, QueuedEvent[]>();
  for (const event of events) {
    if (event.receivedAt - Date.parse(event.timestamp) > LATE_MS) continue;
    const key = `${event.siteId}\u0000${event.visitorId}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  const visits: Visit[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || (a.eventId < b.eventId ? -1 : 1));
    let current: QueuedEvent[] = [];
    const close = () => {
      const first = current[0] as QueuedEvent;
      const last = current[current.length - 1] as QueuedEvent;
      const views = current.filter((e) => e.eventType === 'page_view');
      const started = Date.parse(first.timestamp);
      visits.push({
        site_id: first.siteId,
        visitor_id: first.visitorId,
        started_at: started,
        ended_at: Date.parse(last.timestamp),
        date: localDate(started, first.siteId === 'ny' ? SITES.ny : SITES.utc),
        events: current.length,
        pageviews: views.length,
        entry_page: first.path,
        exit_page: views.length > 0 ? (views[views.length - 1] as QueuedEvent).path : null,
        source: first.source ?? null,
        channel: first.channel ?? null,
        country: first.country ?? null,
        device: first.device ?? null,
      });
    };
    for (const event of group) {
      const previous = current[current.length - 1];
      if (previous && Date.parse(event.timestamp) - Date.parse(previous.timestamp) > TIMEOUT_MS) {
        close();
        current = [];
      }
      current.push(event);
    }
    close();
  }
  return visits;
}

type Rollup = { events: number; pageviews: number; visits: number; bounces: number; duration_s: number };

function referenceRollups(events: QueuedEvent[], visits: Visit[]): Map<string, Rollup> {
  const rollups = new Map<string, Rollup>();
  const add = (key: string, delta: Partial<Rollup>) => {
    const row = rollups.get(key) ?? { events: 0, pageviews: 0, visits: 0, bounces: 0, duration_s: 0 };
    for (const [metric, value] of Object.entries(delta)) row[metric as keyof Rollup] += value as number;
    rollups.set(key, row);
  };
  for (const event of events) {
    const date = localDate(Date.parse(event.timestamp), event.siteId === 'ny' ? SITES.ny : SITES.utc);
    const counts = { events: 1, pageviews: event.eventType === 'page_view' ? 1 : 0 };
    add(`${event.siteId}|${date}||`, counts);
    add(`${event.siteId}|${date}|path|${event.path}`, counts);
    add(`${event.siteId}|${date}|eventType|${event.eventType}`, counts);
    for (const [key, value] of Object.entries(event.props ?? {}))
      add(`${event.siteId}|${date}|props:${key}|${String(value)}`, counts);
  }
  const columns: Record<string, keyof Visit> = {
    entryPage: 'entry_page',
    exitPage: 'exit_page',
    source: 'source',
    channel: 'channel',
    country: 'country',
    device: 'device',
  };
  for (const visit of visits) {
    const metrics = {
      visits: 1,
      bounces: visit.events === 1 && visit.pageviews === 1 ? 1 : 0,
      duration_s: Math.floor((visit.ended_at - visit.started_at) / 1000),
    };
    add(`${visit.site_id}|${visit.date}||`, metrics);
    for (const [dimension, column] of Object.entries(columns)) {
      const value = visit[column];
      if (value !== null) {
        add(`${visit.site_id}|${visit.date}|${dimension}|${value}`, {
          ...metrics,
          events: visit.events,
          pageviews: visit.pageviews,
        });
      }
    }
  }
  for (const [key, row] of rollups) if (Object.values(row).every((value) => value === 0)) rollups.delete(key);
  return rollups;
}

/** Who was on each site-local day (late events too), and with which event types. */
function referenceLedgers(events: QueuedEvent[]) {
  const days = new Map<string, Set<string>>();
  const types = new Set<string>();
  for (const event of events) {
    const day = `${event.siteId}|${localDate(Date.parse(event.timestamp), event.siteId === 'ny' ? SITES.ny : SITES.utc)}`;
    days.set(day, (days.get(day) ?? new Set()).add(event.visitorId as string));
    types.add(`${day}|${event.eventType}|${event.visitorId}`);
  }
  const dayVisitors = [...days].flatMap(([day, visitors]) => [...visitors].map((visitor) => `${day}|${visitor}`));
  return { days, dayVisitors, typeVisitors: [...types] };
}

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Gaps (minutes) between a visitor's consecutive events, clustered around the timeout. */
const gapArbitrary = fc.oneof(
  fc.constantFrom(0, 1, 5, 29, 30, 31, 45, 120),
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 600 }),
);

const eventsArbitrary = fc
  .array(
    fc.record({
      site: fc.constantFrom<'ny' | 'utc'>('ny', 'utc'),
      visitor: fc.integer({ min: 0, max: 5 }),
      gaps: fc.array(
        fc.record({
          gapMinutes: gapArbitrary,
          gapSeconds: fc.integer({ min: 0, max: 59 }),
          type: fc.constantFrom('page_view', 'page_view', 'click'),
          path: fc.constantFrom('/', '/a', '/b', '/pricing'),
          source: fc.constantFrom('Direct / None', 'Google', 'Hacker News'),
          country: fc.option(fc.constantFrom('US', 'DE'), { nil: undefined }),
          late: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
          prop: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        }),
        { minLength: 5, maxLength: 60 },
      ),
    }),
    { minLength: 3, maxLength: 10 },
  )
  .map((visitors) => {
    const events: QueuedEvent[] = [];
    let id = 0;
    for (const { site, visitor, gaps } of visitors) {
      // Start somewhere in the 28 hours around the DST change.
      let at = BASE + ((visitor * 97 + id) % 28) * 3_600_000;
      for (const step of gaps) {
        at += step.gapMinutes * 60_000 + step.gapSeconds * 1000;
        id += 1;
        const event: QueuedEvent = {
          eventId: uuid(id * 7919 + 13),
          visitorId: uuid(visitor),
          siteId: site,
          eventType: step.type,
          path: step.path,
          timestamp: new Date(at).toISOString(),
          receivedAt: at + (step.late ? LATE_MS + 3_600_000 : 60_000),
          source: step.source,
          channel:
            step.source === 'Google' ? 'Organic Search' : step.source === 'Direct / None' ? 'Direct' : 'Organic Social',
          device: visitor % 2 === 0 ? 'desktop' : 'mobile',
        };
        if (step.country) event.country = step.country;
        if (step.prop) event.props = { plan: step.prop };
        events.push(event);
      }
    }
    return events;
  });

/** Shuffled, with some events duplicated, cut into batches for 4 workers, maybe in visitor parts. */
const deliveryArbitrary = (count: number) =>
  fc.record({
    order: fc.array(fc.nat(), { minLength: count, maxLength: count }),
    duplicates: fc.array(fc.nat({ max: Math.max(0, count - 1) }), { maxLength: Math.ceil(count / 4) }),
    batchSize: fc.integer({ min: 1, max: 25 }),
    // Cut batches of at least this many events into visitor parts folded side by side (as large batches are).
    partitionMinEvents: fc.constantFrom(1, 4, Number.POSITIVE_INFINITY),
  });

describe('visits are exactly those of in-order delivery (property)', () => {
  let testDatabase: TestDatabase;
  let database: DatabaseHandle;
  let totalEvents = 0;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = connectPostgres(testDatabase.url, 6);
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  async function query<Row>(text: string): Promise<Row[]> {
    const result = (await database.db.execute(text as never)) as unknown as { rows: Row[] };
    return result.rows;
  }

  it('shuffled, duplicated, batched and concurrent delivery matches the reference model', async () => {
    await fc.assert(
      fc.asyncProperty(
        eventsArbitrary.chain((events) => fc.tuple(fc.constant(events), deliveryArbitrary(events.length))),
        async ([events, delivery]) => {
          await database.db.execute(
            'TRUNCATE raw_events, visits, site_daily_rollups, site_daily_aggregates, site_daily_unique_users, site_daily_path_counts, site_daily_event_counts, site_daily_event_visitors, sites' as never,
          );
          await database.db.execute(
            "INSERT INTO sites (site_id, time_zone, rollups_time_zone) VALUES ('ny', 'America/New_York', 'America/New_York'), ('utc', 'UTC', 'UTC')" as never,
          );
          totalEvents += events.length;
          const shuffled = events
            .map((event, index) => ({ event, key: delivery.order[index] ?? 0 }))
            .sort((a, b) => a.key - b.key)
            .map(({ event }) => event);
          for (const index of delivery.duplicates) {
            const copy = events[index];
            if (copy) shuffled.splice((index * 31) % (shuffled.length + 1), 0, { ...copy });
          }
          const batches: QueuedEvent[][] = [];
          for (let i = 0; i < shuffled.length; i += delivery.batchSize)
            batches.push(shuffled.slice(i, i + delivery.batchSize));
          const workers = [0, 1, 2, 3].map(async (worker) => {
            for (let i = worker; i < batches.length; i += 4)
              await foldBatch(database.db, batches[i] as QueuedEvent[], DEFAULT_VISIT_RULES, {
                partitionMinEvents: delivery.partitionMinEvents,
              });
          });
          await Promise.all(workers);

          const expectedVisits = referenceVisits(events).sort(byVisitKey);
          const storedVisits = (
            await query<Visit>(
              'SELECT site_id, visitor_id, (extract(epoch FROM started_at) * 1000)::float8 AS started_at, (extract(epoch FROM ended_at) * 1000)::float8 AS ended_at, date::text AS date, events, pageviews, entry_page, exit_page, source, channel, country, device FROM visits',
            )
          )
            .map((row) => ({ ...row, started_at: Number(row.started_at), ended_at: Number(row.ended_at) }))
            .sort(byVisitKey);
          expect(storedVisits).toEqual(expectedVisits);

          const checked = new Set([
            '',
            'path',
            'eventType',
            'props:plan',
            'entryPage',
            'exitPage',
            'source',
            'channel',
            'country',
            'device',
          ]);
          const stored = new Map<string, Rollup>();
          for (const row of await query<Rollup & { site_id: string; date: string; dimension: string; value: string }>(
            'SELECT site_id, date::text AS date, dimension, value, events::int, pageviews::int, visits::int, bounces::int, duration_s::int FROM site_daily_rollups',
          )) {
            if (!checked.has(row.dimension)) continue;
            const { site_id, date, dimension, value, ...metrics } = row;
            if (Object.values(metrics).every((metric) => metric === 0)) continue;
            stored.set(`${site_id}|${date}|${dimension}|${value}`, metrics);
          }
          expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(referenceRollups(events, expectedVisits)));

          // Part one's totals and the day's visitor ledgers follow the site-local day too.
          const ledgers = referenceLedgers(events);
          const totals = await query<{ site_id: string; date: string; total_views: number; unique_users: number }>(
            'SELECT site_id, date::text AS date, total_views::int, unique_users::int FROM site_daily_aggregates',
          );
          for (const row of totals) {
            expect(row.total_views).toBe(stored.get(`${row.site_id}|${row.date}||`)?.events);
            expect(row.unique_users).toBe(ledgers.days.get(`${row.site_id}|${row.date}`)?.size);
          }
          expect(totals).toHaveLength(ledgers.days.size);
          const dayVisitors = await query<{ key: string }>(
            "SELECT site_id || '|' || date || '|' || visitor_id AS key FROM site_daily_unique_users",
          );
          expect(dayVisitors.map((row) => row.key).sort()).toEqual(ledgers.dayVisitors.sort());
          const typeVisitors = await query<{ key: string }>(
            "SELECT site_id || '|' || date || '|' || event_type || '|' || visitor_id AS key FROM site_daily_event_visitors",
          );
          expect(typeVisitors.map((row) => row.key).sort()).toEqual(ledgers.typeVisitors.sort());
        },
      ),
      { numRuns: 60, seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 1_000_000) },
    );
    // Thousands of events over the runs, not a handful.
    expect(totalEvents).toBeGreaterThan(2_000);
    expect(VISIT_DIMENSIONS.length).toBe(17);
  }, 240_000);
});

function byVisitKey(a: Visit, b: Visit): number {
  return `${a.site_id}|${a.visitor_id}|${a.started_at}` < `${b.site_id}|${b.visitor_id}|${b.started_at}` ? -1 : 1;
}
