/**
 * Filtered breakdowns from pair rollups (`pairs.ts`) against the raw path
 * (`runQuery(…, { pairs: false })`), on real PostgreSQL: a generated site
 * folded by the worker's own fold, with sealed days (`sealDay`), a sealed
 * month of pairs (`sealPendingPairMonths`) and days not sealed yet. Every
 * row's visitors stay below the sparse limit, so the sketches' unions are
 * exact and the answers must be equal, `meta` included. Then a late event on
 * a sealed day: its stale pairs are not read until the day is sealed again.
 */
import { type QueryRequest, queryRequestSchema } from '@tally/shared';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, seededRandom, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type DatabaseHandle, queryRows } from '../db/client.js';
import { foldNewEvents } from '../worker/fold-batch.js';
import { sealDay, sealDueDays } from '../worker/sketches.js';
import { coverage, pairSource } from './pairs.js';
import { sealPendingPairMonths, sealPendingPeriods } from './periods.js';
import { planQuery } from './plan.js';
import { addDays } from './ranges.js';
import { runQuery } from './run.js';

const SITE = 'pairs';
const FIRST = '2024-01-25';
const LAST_SEALED = '2024-03-03';
const LAST = '2024-03-05';
const RULES = { timeoutMinutes: 30, lateEventHours: 48 };
const context = { timeZone: 'UTC', now: new Date('2024-03-06T12:00:00Z'), firstEventDay: FIRST };

const SOURCES: [string, string][] = [
  ['Google', 'Organic Search'],
  ['Bing', 'Organic Search'],
  ['Direct / None', 'Direct'],
  ['Reddit', 'Organic Social'],
];
const COUNTRIES = ['US', 'DE', 'FR'];
const DEVICES = ['desktop', 'mobile'];
const PATHS = ['/', '/pricing', '/about', '/blog', '/docs', '/a', '/b'];

let uuidCounter = 0;
const uuid = () => `00000000-0000-4000-8000-${(uuidCounter++).toString(16).padStart(12, '0')}`;

async function generate(db: DatabaseHandle['db']) {
  const next = seededRandom(13);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() ** 1.6 * items.length)] as T;
  await db.execute(sql`INSERT INTO sites (site_id) VALUES (${SITE})`);
  const rows: string[][] = [];
  for (let day = FIRST; day <= LAST; day = addDays(day, 1)) {
    const visits = 25 + Math.floor(next() * 15);
    for (let i = 0; i < visits; i++) {
      const visitor = `v${Math.floor(next() * 120)}`;
      const [source, channel] = pick(SOURCES);
      const country = pick(COUNTRIES);
      const device = pick(DEVICES);
      // Some visits start late in the evening and run past midnight: their events belong to two days.
      let at = Date.parse(`${day}T00:00:00Z`) + Math.floor(next() * 86_400_000);
      const views = 1 + Math.floor(next() * 5);
      for (let k = 0; k < views; k++) {
        const signup = k === views - 1 && next() < 0.2;
        const ts = new Date(at).toISOString();
        rows.push([
          uuid(),
          signup ? 'signup' : 'page_view',
          pick(PATHS),
          visitor,
          ts,
          source,
          channel,
          country,
          device,
        ]);
        at += 60_000 + Math.floor(next() * 20 * 60_000);
      }
    }
  }
  await insertEvents(db, rows);
}

async function insertEvents(db: DatabaseHandle['db'], rows: string[][]) {
  const column = (i: number) => sql.param(rows.map((row) => row[i]));
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      INSERT INTO raw_events (event_id, site_id, event_type, path, visitor_id, event_ts, ingestion_ts,
                              source, channel, country, device)
      SELECT e.id::uuid, ${SITE}, e.type, e.path, e.visitor, e.ts::timestamptz, e.ts::timestamptz,
             e.source, e.channel, e.country, e.device
      FROM unnest(${column(0)}::text[], ${column(1)}::text[], ${column(2)}::text[], ${column(3)}::text[],
                  ${column(4)}::text[], ${column(5)}::text[], ${column(6)}::text[], ${column(7)}::text[],
                  ${column(8)}::text[]) AS e(id, type, path, visitor, ts, source, channel, country, device)`);
    await foldNewEvents(
      tx as unknown as DatabaseHandle['db'],
      sql`r.event_id = ANY(${sql.param(rows.map((row) => row[0]))}::uuid[])`,
      RULES,
    );
  });
}

let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase();
  handle = connectPostgres(database.url, 4);
  await generate(handle.db);
  for (let day = FIRST; day <= LAST_SEALED; day = addDays(day, 1)) {
    expect(await sealDay(handle.db, SITE, day)).toBe(true);
  }
  const now = new Date('2024-03-06T12:00:00Z');
  await sealPendingPeriods(handle.db, 'month', { lateEventHours: 48, now });
  // January starts before the first event day but holds every day with events: it is whole. February too.
  expect(await sealPendingPairMonths(handle.db, { lateEventHours: 48, now })).toBe(2);
}, 120_000);

afterAll(async () => {
  await handle?.close();
  await database?.drop();
}, 120_000);

const plan = (request: Partial<QueryRequest>) =>
  planQuery(
    queryRequestSchema.parse({ siteId: SITE, metrics: ['visitors', 'pageviews'], dimensions: ['path'], ...request }),
    context,
  );

const REQUESTS: [string, Partial<QueryRequest>][] = [
  ['the whole range', { dateRange: [FIRST, LAST], filters: [['is', 'source', ['Google']]] }],
  ['a sealed month', { dateRange: ['2024-02-01', '2024-02-29'], filters: [['is', 'source', ['Google']]] }],
  [
    'days around a sealed month, some not sealed, ordered by page views',
    {
      dateRange: ['2024-01-28', LAST],
      filters: [['is', 'country', ['DE']]],
      orderBy: [['pageviews', 'desc']],
      limit: 3,
    },
  ],
  [
    'ordered by visitors, two values',
    {
      dateRange: ['2024-02-10', '2024-03-04'],
      filters: [['is', 'source', ['Google', 'Bing']]],
      orderBy: [['visitors', 'desc']],
    },
  ],
  ['one sealed day', { dateRange: ['2024-02-14', '2024-02-14'], filters: [['is', 'device', ['mobile']]] }],
  ['one day not sealed', { dateRange: [LAST, LAST], filters: [['is', 'channel', ['Organic Search']]] }],
  [
    'with the previous period, a page',
    {
      dateRange: ['2024-02-20', '2024-03-05'],
      filters: [['is', 'channel', ['Direct']]],
      compare: 'previousPeriod',
      limit: 2,
      offset: 1,
    },
  ],
  [
    'events only',
    { metrics: ['events'], dateRange: ['2024-01-25', '2024-02-29'], filters: [['is', 'source', ['Reddit']]] },
  ],
  ['visitors only', { metrics: ['visitors'], dateRange: [FIRST, LAST], filters: [['is', 'device', ['desktop']]] }],
  ['a value no visit has', { dateRange: [FIRST, LAST], filters: [['is', 'source', ['Nowhere']]] }],
];

async function expectSameAnswers() {
  for (const [name, request] of REQUESTS) {
    const planned = plan(request);
    expect(pairSource(planned), name).not.toBeNull();
    const reference = await runQuery(handle.db, planned, { pairs: false });
    const fast = await runQuery(handle.db, planned);
    expect(fast, name).toEqual(reference);
  }
}

describe('filtered breakdowns from pair rollups', () => {
  it('answer what the raw path answers, reading sealed months and days from the pair tables', async () => {
    const found = await coverage(handle.db, plan({ dateRange: ['2024-01-28', LAST] }), {
      from: '2024-01-28',
      to: LAST,
      buckets: null,
    });
    expect(found.months).toEqual(['2024-02-01']);
    expect(found.days).toEqual([
      '2024-01-28',
      '2024-01-29',
      '2024-01-30',
      '2024-01-31',
      '2024-03-01',
      '2024-03-02',
      '2024-03-03',
    ]);
    expect(found.runs).toEqual([{ from: '2024-03-04', to: LAST }]);
    const [answer] = REQUESTS;
    const result = await runQuery(handle.db, plan((answer as [string, Partial<QueryRequest>])[1]));
    expect(result.results.length).toBe(PATHS.length);
    await expectSameAnswers();
  });

  it('are not read for plans they do not hold', () => {
    expect(pairSource(plan({ dateRange: [FIRST, LAST], filters: [['isNot', 'source', ['Google']]] }))).toBeNull();
    expect(pairSource(plan({ dateRange: [FIRST, LAST], filters: [['is', 'browser', ['Chrome']]] }))).toBeNull();
    expect(
      pairSource(plan({ dateRange: [FIRST, LAST], metrics: ['visits'], filters: [['is', 'source', ['Google']]] })),
    ).toBeNull();
    expect(
      pairSource(
        plan({
          dateRange: [FIRST, LAST],
          filters: [
            ['is', 'source', ['Google']],
            ['is', 'country', ['US']],
          ],
        }),
      ),
    ).toBeNull();
    expect(
      pairSource(
        plan({ dateRange: [FIRST, LAST], dimensions: ['path', 'time:day'], filters: [['is', 'source', ['Google']]] }),
      ),
    ).toBeNull();
  });

  it('a late event on a sealed day is read from raw events until the day and its month are sealed again', async () => {
    // Google, on a sealed day inside the sealed month, joining no visit of its own visitor's.
    await insertEvents(handle.db, [
      [uuid(), 'page_view', '/late', 'v-late', '2024-02-14T10:00:00Z', 'Google', 'Organic Search', 'US', 'desktop'],
    ]);
    const stale = await coverage(handle.db, plan({ dateRange: ['2024-02-01', '2024-02-29'] }), {
      from: '2024-02-01',
      to: '2024-02-29',
      buckets: null,
    });
    expect(stale.months).toEqual([]);
    expect(stale.runs).toEqual([{ from: '2024-02-14', to: '2024-02-14' }]);
    const late = await runQuery(
      handle.db,
      plan({ dateRange: ['2024-02-01', '2024-02-29'], filters: [['is', 'source', ['Google']]] }),
    );
    expect(late.results.find((row) => row.dimensions[0] === '/late')?.metrics).toEqual([1, 1]);
    await expectSameAnswers();

    expect(await sealDueDays(handle.db, { ...RULES, lateEventHours: 0 })).toBeGreaterThan(0);
    const now = new Date('2024-03-06T12:00:00Z');
    expect(await sealPendingPairMonths(handle.db, { lateEventHours: 48, now })).toBe(1);
    const [marker] = await queryRows<{ events: string }>(
      handle.db,
      sql`SELECT events[1] AS events FROM site_monthly_pair_rollups WHERE site_id = ${SITE} AND month = '2024-02-01'
            AND filter_dimension = ''`,
    );
    expect(Number(marker?.events)).toBeGreaterThan(0);
    const resealed = await coverage(handle.db, plan({ dateRange: ['2024-02-01', '2024-02-29'] }), {
      from: '2024-02-01',
      to: '2024-02-29',
      buckets: null,
    });
    expect(resealed).toEqual({ months: ['2024-02-01'], days: [], runs: [] });
    await expectSameAnswers();
  });
});
