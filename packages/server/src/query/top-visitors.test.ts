/**
 * Ranking by visitors with pruning (`top-visitors.ts`) against merging every
 * row, on real PostgreSQL: generated sites with many paths (Zipf, uniform,
 * all tied) over sealed days, a sealed month (`sealPeriod`) and days not sealed
 * yet (counted from `raw_events`). Some paths are "loyal": few visitors back
 * every day, so their sums are large and their unions small — they fill the
 * first merged batch, and the page's real rows must still be found.
 */
import { randomUUID } from 'node:crypto';
import { type QueryRequest, queryRequestSchema } from '@tally/shared';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, seededRandom, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type DatabaseHandle } from '../db/client.js';
import { sealPeriod } from './periods.js';
import { planQuery } from './plan.js';
import { addDays } from './ranges.js';
import { runQuery } from './run.js';
import { VisitorSketch } from './sketches.js';
import { aggregateRollups } from './sql.js';
import { type Bounds, MARGIN, rowsByVisitors, stillPossible } from './top-visitors.js';

const FIRST = '2024-01-10';
const LAST_SEALED = '2024-03-03';
const LAST = '2024-03-05';
const context = { timeZone: 'UTC', now: new Date('2024-03-06T12:00:00Z'), firstEventDay: FIRST };

/** A path's visitors: `perDay` a day drawn from `pool` ids (all of it when `perDay` ≥ `pool`). */
interface PathShape {
  path: string;
  pool: number;
  perDay: number;
}

const days = (() => {
  const list: string[] = [];
  for (let day = FIRST; day <= LAST; day = addDays(day, 1)) list.push(day);
  return list;
})();

async function generate(db: DatabaseHandle['db'], siteId: string, shapes: PathShape[], seed: number) {
  const next = seededRandom(seed);
  await db.execute(sql`INSERT INTO sites (site_id) VALUES (${siteId})`);
  const rollups: unknown[][] = [];
  const events: [string, string, string, string][] = [];
  for (const day of days) {
    const sealed = day <= LAST_SEALED;
    let total = 0;
    for (const shape of shapes) {
      const visitors = new Set<string>();
      if (shape.perDay >= shape.pool) {
        for (let i = 0; i < shape.pool; i++) visitors.add(`${siteId}:${shape.path}:${i}`);
      } else {
        const count = Math.max(1, Math.round(shape.perDay * (0.6 + 0.8 * next())));
        for (let i = 0; i < count; i++) visitors.add(`${siteId}:${shape.path}:${Math.floor(next() * shape.pool)}`);
      }
      total += visitors.size;
      if (sealed) {
        const sketch = new VisitorSketch();
        for (const id of visitors) sketch.add(id);
        rollups.push([day, 'path', shape.path, visitors.size, visitors.size, sketch.serialize()]);
      } else {
        rollups.push([day, 'path', shape.path, visitors.size, null, null]);
        for (const id of visitors) events.push([shape.path, id, `${day}T12:00:00Z`, randomUUID()]);
      }
    }
    // The totals row a sealed month is recognised by; its visitors are never asked here.
    rollups.push([day, '', '', total, sealed ? 0 : null, sealed ? new VisitorSketch().serialize() : null]);
  }
  for (let i = 0; i < rollups.length; i += 500) {
    const chunk = rollups.slice(i, i + 500);
    const column = (j: number) => chunk.map((row) => row[j]);
    await db.execute(sql`
      INSERT INTO site_daily_rollups (site_id, date, dimension, value, events, pageviews, visitors_sum, visitors_sketch)
      SELECT ${siteId}, d, dim, v, n, n, s, k FROM unnest(
        ${sql.param(column(0))}::date[], ${sql.param(column(1))}::text[], ${sql.param(column(2))}::text[],
        ${sql.param(column(3))}::bigint[], ${sql.param(column(4))}::bigint[],
        ${sql.param(column(5).map((b) => (b === null ? null : `\\x${(b as Buffer).toString('hex')}`)))}::bytea[]
      ) AS x(d, dim, v, n, s, k)`);
  }
  for (let i = 0; i < events.length; i += 5_000) {
    const chunk = events.slice(i, i + 5_000);
    await db.execute(sql`
      INSERT INTO raw_events (event_id, site_id, event_type, path, visitor_id, event_ts)
      SELECT id, ${siteId}, 'page_view', p, v, t FROM unnest(
        ${sql.param(chunk.map((e) => e[3]))}::uuid[], ${sql.param(chunk.map((e) => e[0]))}::text[],
        ${sql.param(chunk.map((e) => e[1]))}::text[], ${sql.param(chunk.map((e) => e[2]))}::timestamptz[]
      ) AS x(id, p, v, t)`);
  }
  expect(await sealPeriod(db, siteId, 'month', '2024-02-01')).toBe(shapes.length + 1);
}

const SHAPES: Record<string, PathShape[]> = {
  // Zipf (s = 1): the first path about 3,300 visitors a day (dense days and a dense month), the 120th about 27.
  zipf: [
    ...Array.from({ length: 120 }, (_, i) => ({
      path: `/z/${i}`,
      perDay: Math.round(3_300 / (i + 1)),
      pool: Math.round((3_300 / (i + 1)) * 25),
    })),
    // Sums among the ten largest, unions of a few hundred.
    ...Array.from({ length: 12 }, (_, i) => ({ path: `/loyal/${i}`, pool: 400 + 20 * i, perDay: 400 + 20 * i })),
  ],
  uniform: [
    ...Array.from({ length: 150 }, (_, i) => ({ path: `/u/${i}`, perDay: 40, pool: 1_500 })),
    ...Array.from({ length: 8 }, (_, i) => ({ path: `/loyal/${i}`, pool: 45, perDay: 45 })),
  ],
  // Every path the same visitors every day: equal counts, ordered by path.
  ties: Array.from({ length: 40 }, (_, i) => ({ path: `/t/${String(i).padStart(2, '0')}`, pool: 30, perDay: 30 })),
};

describe('ordering by visitors merges only the rows that can reach the page', () => {
  let testDatabase: TestDatabase;
  let database: DatabaseHandle;
  const plan = (siteId: string, request: Omit<QueryRequest, 'siteId'>) =>
    planQuery(queryRequestSchema.parse({ siteId, ...request }), context);

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = connectPostgres(testDatabase.url, 4);
    let seed = 1;
    for (const [siteId, shapes] of Object.entries(SHAPES)) await generate(database.db, siteId, shapes, seed++);
  }, 120_000);
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  const ranges: [string, string][] = [
    [FIRST, LAST], // days, the sealed month of February, days not sealed yet
    ['2024-02-01', '2024-02-29'], // the month alone
    ['2024-01-15', '2024-01-31'], // sealed days only
    ['2024-02-20', LAST], // sealed days and unsealed ones
  ];
  const pages: [number, number][] = [
    [0, 10],
    [0, 1],
    [7, 5],
    [25, 20],
    [125, 30],
  ];

  for (const siteId of Object.keys(SHAPES)) {
    it(`gives the answers merging every row gives: ${siteId}`, async () => {
      const requests: Omit<QueryRequest, 'siteId'>[] = [];
      for (const dateRange of ranges) {
        for (const [offset, limit] of pages) {
          requests.push({
            metrics: ['visitors', 'pageviews'],
            dimensions: ['path'],
            dateRange,
            orderBy: [['visitors', 'desc']],
            offset,
            limit,
          });
        }
        // The default order of a breakdown whose first metric is visitors; a filter on the same dimension.
        requests.push({ metrics: ['visitors'], dimensions: ['path'], dateRange, limit: 10 });
        requests.push({
          metrics: ['visitors'],
          dimensions: ['path'],
          dateRange,
          filters: [['contains', 'path', ['1']]],
          limit: 5,
        });
      }
      // One row per month and path: January's days, February's sealed month, March's days.
      requests.push({
        metrics: ['visitors', 'pageviews'],
        dimensions: ['time:month', 'path'],
        dateRange: [FIRST, LAST],
        orderBy: [['visitors', 'desc']],
        offset: 3,
        limit: 15,
      });
      for (const request of requests) {
        const planned = plan(siteId, request);
        const pruned = await runQuery(database.db, planned);
        const full = await runQuery(database.db, planned, { prune: false });
        expect(pruned, JSON.stringify(request)).toEqual(full);
        // Not vacuous: the page holds what there is, and totalRows counts every row, not the merged ones.
        const expected = Math.min(planned.limit, Math.max(0, pruned.meta.totalRows - planned.offset));
        expect(pruned.results.length, JSON.stringify(request)).toBe(expected);
        if (planned.offset < 100) expect(expected).toBeGreaterThan(0);
      }
    }, 120_000);
  }

  it('merges far fewer rows than there are on a Zipf site, the loyal paths notwithstanding', async () => {
    for (const dateRange of ranges) {
      const planned = plan('zipf', {
        metrics: ['visitors', 'pageviews'],
        dimensions: ['path'],
        dateRange,
        orderBy: [['visitors', 'desc']],
        limit: 10,
      });
      const window = { from: dateRange[0], to: dateRange[1], buckets: null };
      const { rows } = await aggregateRollups(database.db, planned, 'path', window, { visitors: false, values: null });
      expect(rows).toHaveLength(132);
      const answer = await runQuery(database.db, planned);
      expect(answer.meta.totalRows).toBe(132);
      const found = await rowsByVisitors(database.db, planned, 'path', window, rows);
      // The ten largest sums are the loyal paths' and the first few; the rest are the real top ten and a margin.
      expect(found.merged, JSON.stringify(dateRange)).toBeLessThan(50);
      expect(found.estimated).toBe(true);
      const page = found.rows.sort((a, b) => b.counts.visitors - a.counts.visitors).slice(0, 10);
      expect(page.map((row) => row.dimensions[0])).toEqual(Array.from({ length: 10 }, (_, i) => `/z/${i}`));
    }
  });

  it('keeps every row whose sum reaches the threshold less the margin, whatever its largest row', () => {
    const bounds = new Map<string, Bounds>([
      ['a', { lower: 900, upper: 1_000 }],
      ['b', { lower: 800, upper: 820 }],
      // Spread thin over many days: a small largest row, but a sum that may still beat b.
      ['spread', { lower: 10, upper: 790 }],
      ['short', { lower: 10, upper: 700 }],
    ]);
    // a and b merged: the second largest is 800, the threshold 800 · 0.96 = 768.
    const merged = new Map([
      ['a', 950],
      ['b', 800],
    ]);
    expect(800 * (1 - MARGIN)).toBe(768);
    expect(stillPossible(bounds, merged, 2)).toEqual(['spread']);
    // The lower bounds alone give the threshold when nothing merged says more.
    expect(stillPossible(bounds, new Map(), 2).sort()).toEqual(['a', 'b', 'spread']);
  });
});
