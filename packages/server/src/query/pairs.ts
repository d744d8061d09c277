/**
 * A breakdown filtered on another dimension from pair rollups (issue #13):
 * "top pages, source = Google" without joining the visits of the range to
 * their events. Read when the plan breaks down by one of `PAIR_DIMENSIONS`
 * only (no time dimension), has exactly one filter, an `is` on one of
 * `PAIR_FILTERS`, and asks event metrics and visitors only; everything else
 * keeps the raw path of `sql.ts`. Sealed months and days whose pairs are
 * current (their marker's event count equals the day's) are read from the
 * pair tables; the other days of the range from raw events and visits, as the
 * raw path reads them. Counters are exact sums; visitors are the union of the
 * sealed rows' sketches and the other days' visitor ids (exact while sparse).
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Database, forEachRow, queryRows } from '../db/client.js';
import type { PlannedFilter, QueryPlan } from './plan.js';
import { addDays, startOfLocalDay } from './ranges.js';
import {
  type Aggregate,
  type AggregatedRow,
  aggregateRaw,
  type DayWindow,
  dimensionValues,
  monthsWithin,
  rawVisitorIds,
  zeroCounts,
} from './sql.js';
import { unionIn, type VisitorUnion } from './visitor-union.js';

/** Visit attributes a filtered breakdown can read from pair rollups, with their `visits` columns. */
export const PAIR_FILTERS: readonly (readonly [string, string])[] = [
  ['source', 'source'],
  ['channel', 'channel'],
  ['country', 'country'],
  ['device', 'device'],
];
/** The breakdowns pair rollups hold for each of `PAIR_FILTERS`: event-level, so event counters and visitors. */
export const PAIR_DIMENSIONS = ['path'] as const;

export interface PairSource {
  kind: 'pairs';
  filter: PlannedFilter;
  dimension: string;
}

/** One packed pair row to write: a filter value's breakdown values with their counters and sketches. */
export interface PairPack {
  filterDimension: string;
  filterValue: string;
  dimension: string;
  entries: { value: string; events: number; pageviews: number; sketch: Buffer }[];
  /** The marker's event count (its row has no entries). */
  events?: number;
}

/** Writes packed pair rows for one day or month (`column`: `date` or `month`) of a site. */
export async function insertPairPacks(
  tx: Database,
  table: 'site_daily_pair_rollups' | 'site_monthly_pair_rollups',
  column: 'date' | 'month',
  siteId: string,
  day: string,
  packs: PairPack[],
): Promise<void> {
  for (let i = 0; i < packs.length; i += 100) {
    const rows = packs.slice(i, i + 100).map((pack) => {
      let end = 0;
      const ends = pack.entries.map((entry) => {
        end += entry.sketch.length;
        return end;
      });
      const events = pack.events === undefined ? pack.entries.map((entry) => entry.events) : [pack.events];
      return sql`(${siteId}, ${day}::date, ${pack.filterDimension}, ${pack.filterValue}, ${pack.dimension},
        ${sql.param(pack.entries.map((entry) => entry.value))}::text[], ${sql.param(events)}::bigint[],
        ${sql.param(pack.entries.map((entry) => entry.pageviews))}::bigint[], ${sql.param(ends)}::integer[],
        ${sql.param(Buffer.concat(pack.entries.map((entry) => entry.sketch)))}::bytea)`;
    });
    await tx.execute(sql`
      INSERT INTO ${sql.identifier(table)} (site_id, ${sql.identifier(column)}, filter_dimension, filter_value, dimension,
        values, events, pageviews, sketch_ends, sketches)
      VALUES ${sql.join(rows, sql`, `)}`);
  }
}

const PAIR_METRICS = new Set(['visitors', 'events', 'pageviews']);

/** The pair rollups that answer this plan, or `null` when they cannot. */
export function pairSource(plan: QueryPlan): PairSource | null {
  if (plan.range.kind !== 'days' || plan.dimensions.length !== 1 || plan.filters.length !== 1) return null;
  const [dimension] = plan.dimensions;
  const [filter] = plan.filters;
  if (dimension === undefined || filter === undefined) return null;
  if (!(PAIR_DIMENSIONS as readonly string[]).includes(dimension.name)) return null;
  if (filter.operator !== 'is' || !PAIR_FILTERS.some(([name]) => name === filter.dimension.name)) return null;
  if (!plan.metrics.every((metric) => PAIR_METRICS.has(metric))) return null;
  return { kind: 'pairs', filter, dimension: dimension.name };
}

const marker = (table: SQL) =>
  sql`${table}.filter_dimension = '' AND ${table}.dimension = '' AND ${table}.filter_value = ''`;

/** Which days of the window the pair tables answer (as whole months, and single days), and which raw events do. */
export async function coverage(db: Database, plan: QueryPlan, window: DayWindow) {
  const months = monthsWithin(window.from, window.to);
  const [dayRows, monthRows] = await Promise.all([
    queryRows<{ date: string; ok: boolean }>(
      db,
      sql`SELECT a.date::text AS date, coalesce(p.events[1] = a.total_views, false) AS ok
          FROM site_daily_aggregates a
          LEFT JOIN site_daily_pair_rollups p ON p.site_id = a.site_id AND p.date = a.date AND ${marker(sql`p`)}
          WHERE a.site_id = ${plan.siteId} AND a.date BETWEEN ${window.from}::date AND ${window.to}::date`,
    ),
    months.length === 0
      ? []
      : queryRows<{ month: string }>(
          db,
          sql`SELECT m.month::text AS month FROM site_monthly_pair_rollups m
              WHERE m.site_id = ${plan.siteId} AND ${marker(sql`m`)} AND m.month = ANY(${sql.param(months)}::date[])
                AND m.events[1] = (
                  SELECT coalesce(sum(a.total_views), 0) FROM site_daily_aggregates a
                  WHERE a.site_id = m.site_id AND a.date >= m.month AND a.date < (m.month + interval '1 month')::date)`,
        ),
  ]);
  const sealedMonths = monthRows.map((row) => row.month);
  const inMonth = (day: string) => sealedMonths.includes(`${day.slice(0, 8)}01`);
  const days = dayRows.filter((row) => row.ok && !inMonth(row.date)).map((row) => row.date);
  // Days with events the pairs do not answer, as runs of consecutive days for the raw path.
  const runs: { from: string; to: string }[] = [];
  for (const row of dayRows.filter((r) => !r.ok && !inMonth(r.date)).sort((a, b) => (a.date < b.date ? -1 : 1))) {
    const last = runs[runs.length - 1];
    if (last !== undefined && addDays(last.to, 1) === row.date) last.to = row.date;
    else runs.push({ from: row.date, to: row.date });
  }
  return { months: sealedMonths, days, runs };
}

/**
 * The pair entries of the sealed months and days for the plan's filter, as `u`: `value`, `events`,
 * `pageviews` and, with `sketches`, the entry's sketch `s` sliced from its row.
 */
function pairEntries(
  plan: QueryPlan,
  source: PairSource,
  months: string[],
  days: string[],
  values: string[] | null,
  sketches: boolean,
) {
  const where = (table: SQL) => sql`${table}.site_id = ${plan.siteId}
    AND ${table}.filter_dimension = ${source.filter.dimension.name} AND ${table}.dimension = ${source.dimension}
    AND ${table}.filter_value = ANY(${sql.param(source.filter.values)}::text[])`;
  const sketch = sketches
    ? sql`, substring(r.sketches FROM coalesce(r.sketch_ends[u.i - 1], 0) + 1
            FOR r.sketch_ends[u.i] - coalesce(r.sketch_ends[u.i - 1], 0)) AS s`
    : sql``;
  return sql`(
    SELECT u.value, u.events, u.pageviews ${sketch}
    FROM (
      SELECT d.values, d.events, d.pageviews, d.sketch_ends, d.sketches FROM site_daily_pair_rollups d
      WHERE ${where(sql`d`)} AND d.date = ANY(${sql.param(days)}::date[])
      UNION ALL
      SELECT m.values, m.events, m.pageviews, m.sketch_ends, m.sketches FROM site_monthly_pair_rollups m
      WHERE ${where(sql`m`)} AND m.month = ANY(${sql.param(months)}::date[])
    ) r CROSS JOIN LATERAL unnest(r.values, r.events, r.pageviews) WITH ORDINALITY AS u(value, events, pageviews, i)
    ${values === null ? sql`` : sql`WHERE u.value = ANY(${sql.param(values)}::text[])`}
  ) u`;
}

/** The plan's rows over a day window: counters, and (with `visitors`) visitors for `values` or every row. */
export async function aggregatePairs(
  db: Database,
  plan: QueryPlan,
  source: PairSource,
  window: DayWindow,
  options: { visitors: boolean; values: string[] | null; visitorsOnly?: boolean },
): Promise<Aggregate> {
  const { months, days, runs } = await coverage(db, plan, window);
  // `visitorsOnly`: the rows' counters are known (the page's visitors are read after it is cut).
  const counters = !options.visitorsOnly;

  const rawWindows = runs.map((run) => ({
    days: run,
    start: startOfLocalDay(run.from, plan.timeZone),
    end: startOfLocalDay(addDays(run.to, 1), plan.timeZone),
    buckets: null,
  }));
  const unions = new Map<string, VisitorUnion>();
  const unionOf = (value: string) => unionIn(unions, value);
  const [counted, , ...raw] = await Promise.all([
    counters
      ? queryRows<{ v: string; events: string; pageviews: string }>(
          db,
          sql`SELECT u.value AS v, sum(u.events) AS events, sum(u.pageviews) AS pageviews
              FROM ${pairEntries(plan, source, months, days, options.values, false)} GROUP BY 1`,
        )
      : [],
    // Merged as they arrive, as base64 (`forEachRow` says why; `rollupVisitors` in sql.ts, why base64).
    options.visitors
      ? forEachRow<{ v: string; s: string }>(
          db,
          sql`SELECT u.value AS v, encode(u.s, 'base64') AS s
              FROM ${pairEntries(plan, source, months, days, options.values, true)}`,
          (row) => unionOf(row.v).addSketch(Buffer.from(row.s, 'base64')),
        )
      : undefined,
    ...rawWindows.map(async (rawWindow) => {
      const [counts, ids] = await Promise.all([
        counters ? aggregateRaw(db, plan, rawWindow, { visitors: true }) : { rows: [], visitorsEstimated: false },
        options.visitors ? rawVisitorIds(db, plan, rawWindow, options.values) : [],
      ]);
      return { counts, ids };
    }),
  ]);
  const byValue = new Map<string, AggregatedRow>();
  const rowOf = (value: string) => {
    let row = byValue.get(value);
    if (row === undefined) {
      row = { dimensions: [value], counts: zeroCounts() };
      byValue.set(value, row);
    }
    return row;
  };
  for (const row of counted) {
    const counts = rowOf(row.v).counts;
    counts.events += Number(row.events);
    counts.pageviews += Number(row.pageviews);
  }
  for (const part of raw) {
    for (const row of part.counts.rows) {
      const value = String(row.dimensions[0]);
      if (options.values !== null && !options.values.includes(value)) continue;
      const counts = rowOf(value).counts;
      counts.events += row.counts.events;
      counts.pageviews += row.counts.pageviews;
    }
    for (const row of part.ids) {
      const dimensions = dimensionValues(plan, row);
      if (dimensions !== null) unionOf(String(dimensions[0])).addVisitor(row.id);
    }
  }
  let visitorsEstimated = false;
  if (!counters) for (const value of unions.keys()) rowOf(value);
  if (options.visitors) {
    for (const [value, row] of byValue) {
      const union = unions.get(value);
      row.counts.visitors = union?.estimate() ?? 0;
      if (union !== undefined && !union.exact) visitorsEstimated = true;
    }
  }
  for (const row of byValue.values()) row.counts.visitPageviews = row.counts.pageviews;
  const rows = [...byValue.values()];
  return { rows: counters ? rows.filter((row) => row.counts.events > 0) : rows, visitorsEstimated };
}
