/**
 * A plan's SQL (STYLE 17: plan, then SQL). Every value from the request is a
 * bound parameter; only names this module chooses (columns, from fixed maps)
 * are written into the text. Two sources answer:
 *
 * - `site_daily_rollups` when one dimension (or none) is broken down and every
 *   filter is on that same dimension, over whole days: sums of per-day
 *   counters, visitors from per-day sketches (or exact per-day counts);
 * - `raw_events` joined with `visits` otherwise: filters across dimensions,
 *   event-level filters or dimensions with visit metrics, `time:hour`, and
 *   `realtime`. Visitors there are counted exactly.
 */
import type { Metric } from '@tally/shared';
import { type SQL, sql } from 'drizzle-orm';
import { type Database, forEachRow, queryRows } from '../db/client.js';
import { VISIT_DIMENSIONS } from '../worker/visits.js';
import type { PlannedDimension, PlannedFilter, QueryPlan } from './plan.js';
import { addDays, addMonths, type TimeBucket } from './ranges.js';
import { unionIn, type VisitorUnion } from './visitor-union.js';

/** What one answer row adds up before its metrics are derived. */
export interface Counts {
  events: number;
  pageviews: number;
  visits: number;
  bounces: number;
  durationS: number;
  /** Page views of the row's visits (for `viewsPerVisit`). */
  visitPageviews: number;
  visitors: number;
}

export interface AggregatedRow {
  /** One value per plan dimension; a time dimension's value is its bucket index. */
  dimensions: (string | number)[];
  counts: Counts;
}

export interface Aggregate {
  rows: AggregatedRow[];
  /** Whether any `visitors` count was estimated from a dense sketch. */
  visitorsEstimated: boolean;
}

export const zeroCounts = (): Counts => ({
  events: 0,
  pageviews: 0,
  visits: 0,
  bounces: 0,
  durationS: 0,
  visitPageviews: 0,
  visitors: 0,
});

const VISIT_METRICS: readonly Metric[] = ['visits', 'bounceRate', 'visitDuration', 'viewsPerVisit'];
const EVENT_METRICS: readonly Metric[] = ['events', 'pageviews'];

const VISIT_COLUMNS = new Map<string, string>(VISIT_DIMENSIONS.map(([dimension, column]) => [dimension, column]));

/** Where the query reads from, with the single rollup dimension (`''` for totals) when the rollups answer. */
export type Source = { kind: 'rollups'; dimension: string } | { kind: 'raw' };

type NonTime = Exclude<PlannedDimension, { level: 'time' }>;

export function chooseSource(plan: QueryPlan): Source {
  if (plan.range.kind === 'realtime') return { kind: 'raw' };
  const time = plan.dimensions.find((dimension) => dimension.level === 'time');
  if (time?.bucket === 'hour') return { kind: 'raw' };
  const others = plan.dimensions.filter((dimension): dimension is NonTime => dimension.level !== 'time');
  if (others.length > 1) return { kind: 'raw' };
  const names = new Set([...others.map((d) => d.name), ...plan.filters.map((f) => f.dimension.name)]);
  if (names.size > 1) return { kind: 'raw' };
  const [name] = [...names];
  if (name === undefined) return { kind: 'rollups', dimension: '' };
  const dimension = others[0] ?? (plan.filters[0] as PlannedFilter).dimension;
  // Event-level rollup rows (path, type, props) hold events and page views only.
  if (dimension.level === 'event' && plan.metrics.some((metric) => VISIT_METRICS.includes(metric))) {
    return { kind: 'raw' };
  }
  return { kind: 'rollups', dimension: name };
}

const textArray = (values: readonly string[]) => sql`${sql.param(values)}::text[]`;

function likePatterns(values: readonly string[]): string[] {
  return values.map((value) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
}

/** A filter on an expression. Unknown values (NULL) never match, whatever the operator. */
function filterCondition(expression: SQL, filter: Pick<PlannedFilter, 'operator' | 'values'>): SQL {
  switch (filter.operator) {
    case 'is':
      return sql`${expression} = ANY(${textArray(filter.values)})`;
    case 'isNot':
      return sql`${expression} <> ALL(${textArray(filter.values)})`;
    case 'contains':
      return sql`${expression} LIKE ANY(${textArray(likePatterns(filter.values))})`;
    case 'notContains':
      return sql`${expression} NOT LIKE ALL(${textArray(likePatterns(filter.values))})`;
  }
}

const and = (conditions: SQL[]): SQL => (conditions.length === 0 ? sql`true` : sql.join(conditions, sql` AND `));

// ─── Rollups ──────────────────────────────────────────────────────────────────

export interface DayWindow {
  from: string;
  to: string;
  buckets: TimeBucket[] | null;
}

/** `1…n`: the bucket a rollup day falls in, by the buckets' first days. */
function dayBucket(column: SQL, buckets: TimeBucket[] | null): SQL {
  if (buckets === null) return sql`0`;
  return sql`width_bucket(${column}, ${sql.param(buckets.map((bucket) => bucket.from))}::date[])`;
}

function rollupWhere(plan: QueryPlan, dimension: string, window: DayWindow, values: string[] | null): SQL {
  const conditions = [
    sql`r.site_id = ${plan.siteId}`,
    sql`r.dimension = ${dimension}`,
    sql`r.date BETWEEN ${window.from}::date AND ${window.to}::date`,
    ...plan.filters.map((filter) => filterCondition(sql`r.value`, filter)),
  ];
  if (values !== null) conditions.push(sql`r.value = ANY(${textArray(values)})`);
  return and(conditions);
}

interface RollupRow {
  b: number;
  v: string;
  events: string;
  pageviews: string;
  visits: string;
  bounces: string;
  duration_s: string;
}

/** Whether this plan's `visitors` per row are one site-local day without filters: part one's exact counts. */
function exactDailyVisitors(plan: QueryPlan, dimension: string, window: DayWindow): boolean {
  if (dimension !== '' || plan.filters.length > 0) return false;
  const time = plan.dimensions.find((d) => d.level === 'time');
  return time === undefined ? window.from === window.to : time.bucket === 'day';
}

/** The rollup rows of a day window, summed per bucket and value; `values` restricts to those dimension values. */
export async function aggregateRollups(
  db: Database,
  plan: QueryPlan,
  dimension: string,
  window: DayWindow,
  options: { visitors: boolean; values: string[] | null; unions?: boolean; visitorsOnly?: boolean },
): Promise<Aggregate> {
  const where = rollupWhere(plan, dimension, window, options.values);
  const bucket = dayBucket(sql`r.date`, window.buckets);
  const sealed = await sealedPeriods(db, plan, window);
  // The counters, the visitors and (whole site) the page views of the days' visits, read at once.
  const [rows, entries, visitors] = await Promise.all([
    options.visitorsOnly
      ? []
      : queryRows<RollupRow>(
          db,
          sql`SELECT ${bucket} AS b, ${rowValue(plan)} AS v,
            sum(r.events) AS events, sum(r.pageviews) AS pageviews, sum(r.visits) AS visits,
            sum(r.bounces) AS bounces, sum(r.duration_s) AS duration_s
          FROM ${rollupFrom(plan, dimension, sealed, window)} WHERE ${where} GROUP BY 1, 2
          HAVING sum(r.events) <> 0 OR sum(r.visits) <> 0`,
        ),
    dimension === '' && plan.metrics.includes('viewsPerVisit') && !options.visitorsOnly
      ? // The totals row counts page views by their own day; those of the day's visits are on its entry pages.
        queryRows<{ b: number; pageviews: string }>(
          db,
          sql`SELECT ${bucket} AS b, sum(r.pageviews) AS pageviews
              FROM ${rollupFrom(plan, 'entryPage', sealed, window)} WHERE ${rollupWhere(plan, 'entryPage', window, null)}
              GROUP BY 1`,
        )
      : [],
    !options.visitors
      ? null
      : exactDailyVisitors(plan, dimension, window)
        ? queryRows<{ b: number; unique_users: string }>(
            db,
            sql`SELECT ${dayBucket(sql`a.date`, window.buckets)} AS b, a.unique_users FROM site_daily_aggregates a
                WHERE a.site_id = ${plan.siteId} AND a.date BETWEEN ${window.from}::date AND ${window.to}::date`,
          ).then(
            (days) =>
              new Map(days.map((day) => [`${day.b}\u0000`, { visitors: Number(day.unique_users), estimated: false }])),
          )
        : rollupVisitors(db, plan, rollupFrom(plan, dimension, sealed, window), window, where, dimension, options),
  ]);
  const byKey = new Map<string, AggregatedRow>();
  for (const row of rows) {
    const bucketNumber = Number(row.b);
    const counts = zeroCounts();
    counts.events = Number(row.events);
    counts.pageviews = Number(row.pageviews);
    counts.visits = Number(row.visits);
    counts.bounces = Number(row.bounces);
    counts.durationS = Number(row.duration_s);
    counts.visitPageviews = counts.pageviews;
    byKey.set(`${bucketNumber}\u0000${row.v}`, { dimensions: dimensionsOf(plan, bucketNumber - 1, row.v), counts });
  }
  for (const entry of entries) {
    const row = byKey.get(`${entry.b}\u0000`);
    if (row) row.counts.visitPageviews = Number(entry.pageviews);
  }
  let visitorsEstimated = false;
  for (const [key, counted] of visitors ?? []) {
    if (options.visitorsOnly && !byKey.has(key)) {
      const [b = '0', value = ''] = key.split('\u0000');
      byKey.set(key, { dimensions: dimensionsOf(plan, Number(b) - 1, value), counts: zeroCounts() });
    }
    const row = byKey.get(key);
    if (!row) continue;
    row.counts.visitors = counted.visitors;
    if (counted.estimated) visitorsEstimated = true;
  }
  return { rows: [...byKey.values()], visitorsEstimated };
}

export type PeriodKind = 'week' | 'month';

/** Where a kind of period is sealed, and how long one lasts. */
export const PERIODS: Record<
  PeriodKind,
  { table: string; column: string; next: (first: string) => string; interval: SQL }
> = {
  week: {
    table: 'site_weekly_rollups',
    column: 'week',
    next: (first) => addDays(first, 7),
    interval: sql.raw(`interval '7 days'`),
  },
  month: {
    table: 'site_monthly_rollups',
    column: 'month',
    next: (first) => addMonths(first, 1),
    interval: sql.raw(`interval '1 month'`),
  },
};

/**
 * The condition that period row `m` (dimension `''`) still holds exactly what
 * its days hold: the query API reads a period only when this is true.
 */
export function periodIsCurrent(kind: PeriodKind): SQL {
  const first = sql`m.${sql.identifier(PERIODS[kind].column)}`;
  return sql`
  (m.events, m.visits) = (
    SELECT coalesce(sum(d.events), 0), coalesce(sum(d.visits), 0) FROM site_daily_rollups d
    WHERE d.site_id = m.site_id AND d.dimension = '' AND d.value = ''
      AND d.date >= ${first} AND d.date < (${first} + ${PERIODS[kind].interval})::date)`;
}

/** The sealed weeks and months a window reads as one row per value each, instead of their days; by first day. */
export type SealedPeriods = Record<PeriodKind, string[]>;

const NO_PERIODS: SealedPeriods = { month: [], week: [] };
const KINDS = ['month', 'week'] as const;

/**
 * The whole months and weeks of a window that no day bucket splits: months
 * without a time dimension or by month; weeks without one, by week, or by
 * month when the week lies in one month.
 */
function wholePeriods(plan: QueryPlan, window: DayWindow): SealedPeriods {
  const time = plan.dimensions.find((dimension) => dimension.level === 'time');
  if (time !== undefined && time.bucket !== 'month' && time.bucket !== 'week') return NO_PERIODS;
  const weeks = weeksWithin(window.from, window.to);
  return {
    month: time?.bucket === 'week' ? [] : monthsWithin(window.from, window.to),
    week:
      time?.bucket === 'month'
        ? weeks.filter((monday) => monday.slice(0, 7) === addDays(monday, 6).slice(0, 7))
        : weeks,
  };
}

/** The ISO weeks (Monday to Sunday) lying wholly within `[from, to]`, by their Monday. */
export function weeksWithin(from: string, to: string): string[] {
  const weekday = (new Date(`${from}T00:00:00Z`).getUTCDay() + 6) % 7; // 0 = Monday
  const weeks: string[] = [];
  for (let monday = addDays(from, (7 - weekday) % 7); addDays(monday, 6) <= to; monday = addDays(monday, 7)) {
    weeks.push(monday);
  }
  return weeks;
}

/** The calendar months lying wholly within `[from, to]`, by their 1st. */
export function monthsWithin(from: string, to: string): string[] {
  const months: string[] = [];
  // By numbers, not date strings: a range may end on 9999-12-31, whose next month has no date.
  let year = Number(from.slice(0, 4));
  let month = Number(from.slice(5, 7)) + (from.endsWith('-01') ? 0 : 1);
  for (;;) {
    if (month > 12) {
      year += 1;
      month = 1;
    }
    const first = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-01`;
    const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (year > 9999 || `${first.slice(0, 8)}${String(lastDay).padStart(2, '0')}` > to) return months;
    months.push(first);
    month += 1;
  }
}

/** Which of a site's periods of `kind` among `firsts` are sealed and still match their days (`periods.ts`). */
function currentSealed(kind: PeriodKind, siteId: string, firsts: string[]): SQL {
  const { table, column } = PERIODS[kind];
  const first = sql`m.${sql.identifier(column)}`;
  return sql`SELECT ${kind}::text AS kind, ${first}::text AS first FROM ${sql.identifier(table)} m
             WHERE m.site_id = ${siteId} AND m.dimension = '' AND m.value = ''
               AND ${first} = ANY(${sql.param(firsts)}::date[]) AND ${periodIsCurrent(kind)}`;
}

/** Which of a site's `months` are sealed and still match their days. */
export async function currentSealedMonths(db: Database, siteId: string, months: string[]): Promise<string[]> {
  if (months.length === 0) return [];
  const rows = await queryRows<{ first: string }>(db, currentSealed('month', siteId, months));
  return rows.map((row) => row.first);
}

/**
 * Which of a window's whole periods are sealed and still match their days:
 * months first, then the weeks outside them.
 */
async function sealedPeriods(db: Database, plan: QueryPlan, window: DayWindow): Promise<SealedPeriods> {
  const whole = wholePeriods(plan, window);
  const asked = KINDS.filter((kind) => whole[kind].length > 0);
  if (asked.length === 0) return NO_PERIODS;
  const rows = await queryRows<{ kind: PeriodKind; first: string }>(
    db,
    sql.join(
      asked.map((kind) => currentSealed(kind, plan.siteId, whole[kind])),
      sql` UNION ALL `,
    ),
  );
  const month = rows.filter((row) => row.kind === 'month').map((row) => row.first);
  const inSealedMonth = (day: string) => month.includes(`${day.slice(0, 8)}01`);
  const week = rows
    .filter((row) => row.kind === 'week' && !inSealedMonth(row.first) && !inSealedMonth(addDays(row.first, 6)))
    .map((row) => row.first);
  return { month, week };
}

/**
 * The rollup rows of one dimension as `r`: sealed months and weeks as one
 * row each (dated by their first day), every other day as itself.
 * `r.visitors_sum` is a row's own visitor count: exact for a sealed day,
 * estimated for a period.
 */
function rollupFrom(plan: QueryPlan, dimension: string, sealed: SealedPeriods, window: DayWindow): SQL {
  if (sealed.month.length === 0 && sealed.week.length === 0) return sql`site_daily_rollups r`;
  const periods = KINDS.flatMap((kind) =>
    sealed[kind].map((first) => ({ first, next: PERIODS[kind].next(first) })),
  ).sort((a, b) => (a.first < b.first ? -1 : 1));
  // The window's days outside the sealed periods, as ranges, so the index reads no day twice.
  const gaps: SQL[] = [];
  let day = window.from;
  for (const period of periods) {
    if (day < period.first) gaps.push(sql`date BETWEEN ${day}::date AND ${addDays(period.first, -1)}::date`);
    day = period.next;
  }
  if (day <= window.to) gaps.push(sql`date BETWEEN ${day}::date AND ${window.to}::date`);
  const parts = [
    sql`SELECT site_id, date, dimension, value, events, pageviews, visits, bounces, duration_s, visitors_sketch, visitors_sum
        FROM site_daily_rollups
        WHERE site_id = ${plan.siteId} AND dimension = ${dimension} AND ${gaps.length === 0 ? sql`false` : sql`(${sql.join(gaps, sql` OR `)})`}`,
  ];
  for (const kind of KINDS) {
    const firsts = sealed[kind];
    if (firsts.length === 0) continue;
    const { table, column } = PERIODS[kind];
    parts.push(
      sql`SELECT site_id, ${sql.identifier(column)}, dimension, value, events, pageviews, visits, bounces, duration_s, visitors_sketch, visitors_estimate
          FROM ${sql.identifier(table)}
          WHERE site_id = ${plan.siteId} AND dimension = ${dimension} AND ${sql.identifier(column)} = ANY(${sql.param(firsts)}::date[])`,
    );
  }
  return sql`(${sql.join(parts, sql` UNION ALL `)}) r`;
}

/** A filter without a breakdown sums the matching values into one row. */
function rowValue(plan: QueryPlan): SQL {
  return plan.dimensions.some((dimension) => dimension.level !== 'time') ? sql`r.value` : sql`''`;
}

/** A rollup row's answer dimensions: the bucket index where the plan has its time dimension, the value elsewhere. */
function dimensionsOf(plan: QueryPlan, bucketIndex: number, value: string): (string | number)[] {
  return plan.dimensions.map((dimension) => (dimension.level === 'time' ? bucketIndex : value));
}

/**
 * Per bucket and value (`"b\u0000v"`), its distinct visitors: the union of the
 * sealed days' sketches and, for days whose sketch is not made yet, the visitor
 * ids of the table the rollup was folded from. With no sketch in the range at
 * all, PostgreSQL counts the ids itself, exactly — unless `unions`: some values
 * of a range that has sketches, counted as they are when all are.
 */
async function rollupVisitors(
  db: Database,
  plan: QueryPlan,
  from: SQL,
  window: DayWindow,
  where: SQL,
  dimension: string,
  options: { unions?: boolean },
): Promise<Map<string, { visitors: number; estimated: boolean }>> {
  const bucket = dayBucket(sql`r.date`, window.buckets);
  const unsealed = sql`
    WITH missing AS (
      SELECT r.date, r.value, ${bucket} AS b, ${rowValue(plan)} AS k FROM ${from}
      WHERE ${where} AND r.visitors_sketch IS NULL
    )`;
  const counted = new Map<string, { visitors: number; estimated: boolean }>();
  const time = plan.dimensions.find((d) => d.level === 'time');
  const oneDayPerRow = time === undefined ? window.from === window.to : time.bucket === 'day';
  const oneValuePerRow = plan.filters.length === 0 || plan.dimensions.some((d) => d.level !== 'time');
  if (oneDayPerRow && oneValuePerRow) {
    // Each row is one rollup row: its exact count, sealed (`visitors_sum`) or counted from its visitor ids.
    const [sealedRows, unsealedRows] = await Promise.all([
      queryRows<{ b: number; v: string; n: string }>(
        db,
        sql`SELECT ${bucket} AS b, ${rowValue(plan)} AS v, r.visitors_sum AS n FROM ${from}
            WHERE ${where} AND r.visitors_sketch IS NOT NULL AND r.visitors_sum IS NOT NULL`,
      ),
      queryRows<{ b: number; v: string; n: string }>(
        db,
        sql`${unsealed}
            SELECT m.b, m.k AS v, count(DISTINCT x.visitor_id) AS n
            FROM missing m CROSS JOIN LATERAL (${unsealedVisitors(plan, dimension)}) x GROUP BY 1, 2`,
      ),
    ]);
    for (const row of [...sealedRows, ...unsealedRows]) {
      counted.set(`${row.b}\u0000${row.v}`, { visitors: Number(row.n), estimated: false });
    }
    return counted;
  }
  const unions = new Map<string, VisitorUnion>();
  const unionOf = (b: number, v: string) => unionIn(unions, `${b}\u0000${v}`);
  // A row a sketch, as base64 text (at most about 22 KB), merged as it arrives (`forEachRow` says why). Never
  // a `bytea[]`: the driver parses arrays character by character; nor `bytea` itself: as hex, twice the size.
  const found = { sketches: false, unsealedDays: false };
  await forEachRow<{ b: number; v: string; s: string | null }>(
    db,
    sql`SELECT ${bucket} AS b, ${rowValue(plan)} AS v, encode(r.visitors_sketch, 'base64') AS s
        FROM ${from} WHERE ${where}`,
    (row) => {
      if (row.s === null) found.unsealedDays = true;
      else {
        found.sketches = true;
        unionOf(Number(row.b), row.v).addSketch(Buffer.from(row.s, 'base64'));
      }
    },
  );
  if (!found.sketches && !options.unions) {
    const rows = await queryRows<{ b: number; v: string; n: string }>(
      db,
      sql`${unsealed}
          SELECT m.b, m.k AS v, count(DISTINCT x.visitor_id) AS n
          FROM missing m CROSS JOIN LATERAL (${unsealedVisitors(plan, dimension)}) x GROUP BY 1, 2`,
    );
    for (const row of rows) counted.set(`${row.b}\u0000${row.v}`, { visitors: Number(row.n), estimated: false });
    return counted;
  }
  if (found.unsealedDays) {
    await forEachRow<{ b: number; v: string; id: string }>(
      db,
      sql`${unsealed}
          SELECT DISTINCT m.b, m.k AS v, x.visitor_id AS id
          FROM missing m CROSS JOIN LATERAL (${unsealedVisitors(plan, dimension)}) x`,
      (row) => unionOf(Number(row.b), row.v).addVisitor(row.id),
    );
  }
  for (const [key, union] of unions) counted.set(key, { visitors: union.estimate(), estimated: !union.exact });
  return counted;
}

/** Bounds on one answer row's distinct visitors, from the counts of its rollup rows. */
export interface VisitorBounds {
  dimensions: (string | number)[];
  /** The largest row's count: the row's visitors are at least this many. */
  lower: number;
  /** The rows' counts summed: the row's visitors are at most this many. */
  upper: number;
}

/**
 * Per bucket and value, bounds on its distinct visitors read without any
 * sketch: a sealed day's exact count (`visitors_sum`), a sealed week's or month's
 * estimate (`visitors_estimate`), a day not sealed yet counted from its
 * visitor ids. `sketched` says whether any row has a sketch. `null` when a
 * sealed row has no count (a month sealed before months kept one).
 */
export async function rollupVisitorBounds(
  db: Database,
  plan: QueryPlan,
  dimension: string,
  window: DayWindow,
): Promise<{ rows: VisitorBounds[]; sketched: boolean } | null> {
  const where = rollupWhere(plan, dimension, window, null);
  const from = rollupFrom(plan, dimension, await sealedPeriods(db, plan, window), window);
  const bucket = dayBucket(sql`r.date`, window.buckets);
  type Row = { b: number; v: string; lower: string; upper: string; unknown?: string };
  const [sealedRows, unsealedRows] = await Promise.all([
    queryRows<Row>(
      db,
      sql`SELECT ${bucket} AS b, ${rowValue(plan)} AS v, max(r.visitors_sum) AS lower, sum(r.visitors_sum) AS upper,
            count(*) - count(r.visitors_sum) AS unknown
          FROM ${from} WHERE ${where} AND r.visitors_sketch IS NOT NULL GROUP BY 1, 2`,
    ),
    queryRows<Row>(
      db,
      sql`WITH missing AS (
            SELECT r.date, r.value, ${bucket} AS b, ${rowValue(plan)} AS k FROM ${from}
            WHERE ${where} AND r.visitors_sketch IS NULL
          )
          SELECT m.b, m.k AS v, max(c.n) AS lower, sum(c.n) AS upper
          FROM missing m CROSS JOIN LATERAL (
            SELECT count(DISTINCT x.visitor_id) AS n FROM (${unsealedVisitors(plan, dimension)}) x
          ) c GROUP BY 1, 2`,
    ),
  ]);
  if (sealedRows.some((row) => Number(row.unknown) > 0)) return null;
  const bounds = new Map<string, VisitorBounds>();
  for (const row of [...sealedRows, ...unsealedRows]) {
    const key = `${row.b}\u0000${row.v}`;
    const found = bounds.get(key);
    if (found === undefined) {
      bounds.set(key, {
        dimensions: dimensionsOf(plan, Number(row.b) - 1, row.v),
        lower: Number(row.lower),
        upper: Number(row.upper),
      });
    } else {
      found.lower = Math.max(found.lower, Number(row.lower));
      found.upper += Number(row.upper);
    }
  }
  return { rows: [...bounds.values()], sketched: sealedRows.length > 0 };
}

/** The visitors of one rollup row `m` (its `date` and `value`) read from the table it was folded from. */
export function unsealedVisitors(plan: Pick<QueryPlan, 'siteId' | 'timeZone'>, dimension: string): SQL {
  if (dimension === '') {
    return sql`SELECT u.visitor_id FROM site_daily_unique_users u WHERE u.site_id = ${plan.siteId} AND u.date = m.date`;
  }
  const column = VISIT_COLUMNS.get(dimension);
  if (column !== undefined) {
    return sql`SELECT v.visitor_id FROM visits v
               WHERE v.site_id = ${plan.siteId} AND v.date = m.date AND v.${sql.identifier(column)} = m.value`;
  }
  const value =
    dimension === 'path'
      ? sql`e.path`
      : dimension === 'eventType'
        ? sql`e.event_type`
        : sql`e.props ->> ${dimension.slice('props:'.length)}`;
  return sql`SELECT e.visitor_id FROM raw_events e
             WHERE e.site_id = ${plan.siteId} AND e.event_date BETWEEN m.date - 1 AND m.date + 1
               AND (e.event_ts AT TIME ZONE ${plan.timeZone})::date = m.date AND ${value} = m.value
               AND e.visitor_id IS NOT NULL`;
}

// ─── Raw events and visits ────────────────────────────────────────────────────

export interface InstantWindow {
  /** Site-local days (visits belong to the day they started), or `null` for `realtime`. */
  days: { from: string; to: string } | null;
  start: Date;
  end: Date;
  buckets: TimeBucket[] | null;
}

/** A dimension's value for an event `e` and its visit `v` (which may be missing for a late event). */
function eventSideExpression(dimension: NonTime): SQL {
  if (dimension.level === 'event') return eventExpression(dimension);
  const column = sql.identifier(VISIT_COLUMNS.get(dimension.name) as string);
  if (dimension.name === 'entryPage' || dimension.name === 'exitPage') return sql`v.${column}`;
  return sql`CASE WHEN v.site_id IS NULL THEN e.${column} ELSE v.${column} END`;
}

function eventExpression(dimension: Extract<NonTime, { level: 'event' }>): SQL {
  if ('propKey' in dimension) return sql`e.props ->> ${dimension.propKey}`;
  return dimension.name === 'path' ? sql`e.path` : sql`e.event_type`;
}

function visitExpression(dimension: Extract<NonTime, { level: 'visit' }>): SQL {
  return sql`v.${sql.identifier(VISIT_COLUMNS.get(dimension.name) as string)}`;
}

function instantBucket(column: SQL, buckets: TimeBucket[] | null): SQL {
  if (buckets === null) return sql`0`;
  return sql`width_bucket(${column}, ${sql.param(buckets.map((bucket) => bucket.start.toISOString()))}::timestamptz[])`;
}

/** UTC days that hold every instant of the window, so the `(site_id, event_date)` index narrows the scan. */
function utcDays(window: InstantWindow): [string, string] {
  return [
    addDays(window.start.toISOString().slice(0, 10), 0),
    addDays(new Date(window.end.getTime() - 1).toISOString().slice(0, 10), 0),
  ];
}

const eventFilters = (plan: QueryPlan) => plan.filters.filter((f) => f.dimension.level === 'event');
const visitFilters = (plan: QueryPlan) => plan.filters.filter((f) => f.dimension.level === 'visit');

export async function aggregateRaw(
  db: Database,
  plan: QueryPlan,
  window: InstantWindow,
  options: { visitors: boolean },
): Promise<Aggregate> {
  const wantsEvents = options.visitors || plan.metrics.some((metric) => EVENT_METRICS.includes(metric));
  const wantsVisits = plan.metrics.some((metric) => VISIT_METRICS.includes(metric));
  const byKey = new Map<string, AggregatedRow>();
  const rowOf = (dimensions: (string | number)[]) => {
    const key = JSON.stringify(dimensions);
    let row = byKey.get(key);
    if (row === undefined) {
      row = { dimensions, counts: zeroCounts() };
      byKey.set(key, row);
    }
    return row;
  };
  const [events, visits] = await Promise.all([
    wantsEvents ? rawEventRows(db, plan, window) : [],
    wantsVisits ? rawVisitRows(db, plan, window) : [],
  ]);
  for (const row of events) {
    const dimensions = dimensionValues(plan, row);
    if (dimensions === null) continue;
    const counts = rowOf(dimensions).counts;
    counts.events = Number(row.events);
    counts.pageviews = Number(row.pageviews);
    counts.visitors = Number(row.visitors);
  }
  for (const row of visits) {
    const dimensions = dimensionValues(plan, row);
    if (dimensions === null) continue;
    const counts = rowOf(dimensions).counts;
    counts.visits = Number(row.visits);
    counts.bounces = Number(row.bounces);
    counts.durationS = Number(row.duration_s);
    counts.visitPageviews = Number(row.visit_pageviews);
  }
  return { rows: [...byKey.values()], visitorsEstimated: false };
}

/** A raw row's dimension values (`d0`, `d1`), or `null` when one is unknown: breakdowns leave those out. */
export function dimensionValues(plan: QueryPlan, row: Record<string, unknown>): (string | number)[] | null {
  const values: (string | number)[] = [];
  for (const [i, dimension] of plan.dimensions.entries()) {
    const value = row[`d${i}`];
    if (value === null || value === undefined) return null;
    values.push(dimension.level === 'time' ? Number(value) - 1 : String(value));
  }
  return values;
}

function selectDimensions(plan: QueryPlan, expression: (dimension: PlannedDimension) => SQL): SQL {
  if (plan.dimensions.length === 0) return sql``;
  return sql`${sql.join(
    plan.dimensions.map((dimension, i) => sql`${expression(dimension)} AS ${sql.identifier(`d${i}`)}`),
    sql`, `,
  )}, `;
}

function groupBy(plan: QueryPlan): SQL {
  if (plan.dimensions.length === 0) return sql``;
  return sql`GROUP BY ${sql.join(
    plan.dimensions.map((_, i) => sql.raw(String(i + 1))),
    sql`, `,
  )}`;
}

type RawEventRow = Record<string, unknown> & { events: string; pageviews: string; visitors: string };

/**
 * Event metrics: the events of the window matching every filter, each with the
 * visit it belongs to. Without a visit-level filter, events outside any visit
 * (later than `LATE_EVENT_HOURS`) count with their own attributes; with one,
 * the matching visits are read first and only their events joined, which
 * PostgreSQL does through the `(site_id, visitor_id, event_ts)` index.
 */
function rawEventRows(db: Database, plan: QueryPlan, window: InstantWindow): Promise<RawEventRow[]> {
  const counts = sql`count(*) AS events, count(*) FILTER (WHERE e.event_type = 'page_view') AS pageviews,
    count(DISTINCT e.visitor_id) AS visitors`;
  return rawEvents<RawEventRow>(db, plan, window, counts, groupBy(plan));
}

/**
 * The distinct visitors of each row `rawEventRows` counts, as `(d0, …, id)`
 * rows, for a union with sketches (`pairs.ts`); `values` restricts the first
 * non-time dimension to those values.
 */
export function rawVisitorIds(
  db: Database,
  plan: QueryPlan,
  window: InstantWindow,
  values: string[] | null,
): Promise<(Record<string, unknown> & { id: string })[]> {
  const index = plan.dimensions.findIndex((dimension) => dimension.level !== 'time');
  const only = values === null || index < 0 ? null : { index, values };
  return rawEvents(db, plan, window, sql`e.visitor_id AS id`, sql``, only, true);
}

function rawEvents<Row>(
  db: Database,
  plan: QueryPlan,
  window: InstantWindow,
  selected: SQL,
  grouped: SQL,
  only: { index: number; values: string[] } | null = null,
  distinct = false,
): Promise<Row[]> {
  const [fromDay, toDay] = utcDays(window);
  const byVisit = visitFilters(plan).length > 0;
  const dimensions = selectDimensions(plan, (dimension) => {
    if (dimension.level === 'time') return instantBucket(sql`e.event_ts`, window.buckets);
    return byVisit && dimension.level === 'visit' ? visitExpression(dimension) : eventSideExpression(dimension);
  });
  const eventsInWindow = [
    sql`e.site_id = ${plan.siteId}`,
    sql`e.event_date BETWEEN ${fromDay}::date AND ${toDay}::date`,
    sql`e.event_ts >= ${window.start.toISOString()}::timestamptz AND e.event_ts < ${window.end.toISOString()}::timestamptz`,
    ...eventFilters(plan).map((filter) => filterCondition(eventSideExpression(filter.dimension), filter)),
  ];
  if (distinct) eventsInWindow.push(sql`e.visitor_id IS NOT NULL`);
  if (only !== null) {
    const dimension = plan.dimensions[only.index] as NonTime;
    const expression =
      byVisit && dimension.level === 'visit' ? visitExpression(dimension) : eventSideExpression(dimension);
    eventsInWindow.push(filterCondition(expression, { operator: 'is', values: only.values }));
  }
  const counts = selected;
  const select = distinct ? sql`SELECT DISTINCT` : sql`SELECT`;
  if (byVisit) {
    // Visits are dated by their local start day; one that began the day before the window can still reach into it.
    const where = and([
      sql`v.site_id = ${plan.siteId}`,
      sql`v.date BETWEEN ${fromDay}::date - 1 AND ${toDay}::date + 1`,
      sql`v.ended_at >= ${window.start.toISOString()}::timestamptz AND v.started_at < ${window.end.toISOString()}::timestamptz`,
      ...visitFilters(plan).map((filter) =>
        filterCondition(visitExpression(filter.dimension as Extract<NonTime, { level: 'visit' }>), filter),
      ),
      ...eventsInWindow,
    ]);
    return queryRows<Row>(
      db,
      sql`${select} ${dimensions} ${counts}
          FROM visits v
          JOIN raw_events e ON e.site_id = v.site_id AND e.visitor_id = v.visitor_id
            AND e.event_ts >= v.started_at AND e.event_ts <= v.ended_at
          WHERE ${where} ${grouped}`,
    );
  }
  return queryRows<Row>(
    db,
    sql`${select} ${dimensions} ${counts}
        FROM raw_events e
        -- An event's visit: its visitor's latest visit that starts by the event, if it lasts to it (a visitor's
        -- visits never overlap). Newest first, one row: not every visit of a returning visitor for each event.
        LEFT JOIN LATERAL (
          SELECT * FROM visits l
          WHERE l.site_id = e.site_id AND l.visitor_id = e.visitor_id AND l.started_at <= e.event_ts
          ORDER BY l.started_at DESC LIMIT 1
        ) v ON e.event_ts <= v.ended_at
        WHERE ${and(eventsInWindow)} ${grouped}`,
  );
}

type RawVisitRow = Record<string, unknown> & {
  visits: string;
  bounces: string;
  duration_s: string;
  visit_pageviews: string;
};

/**
 * Visit metrics: the visits that started in the window (`realtime`: that were
 * active in it), matching the visit-level filters and having an event that
 * matches every event-level filter. An event-level dimension splits a visit
 * by the values its (matching) events have.
 */
function rawVisitRows(db: Database, plan: QueryPlan, window: InstantWindow): Promise<RawVisitRow[]> {
  const eventDimensions = plan.dimensions
    .map((dimension, i) => ({ dimension, i }))
    .filter(
      (entry): entry is { dimension: Extract<NonTime, { level: 'event' }>; i: number } =>
        entry.dimension.level === 'event',
    );
  const matchingEvents = and([
    sql`e.site_id = v.site_id AND e.visitor_id = v.visitor_id AND e.event_ts >= v.started_at AND e.event_ts <= v.ended_at`,
    ...eventFilters(plan).map((filter) => filterCondition(eventSideExpression(filter.dimension), filter)),
  ]);
  const dimensions = selectDimensions(plan, (dimension) => {
    if (dimension.level === 'time') return instantBucket(sql`v.started_at`, window.buckets);
    if (dimension.level === 'visit') return visitExpression(dimension);
    return sql`ev.${sql.identifier(`e${plan.dimensions.indexOf(dimension)}`)}`;
  });
  const lateral =
    eventDimensions.length === 0
      ? sql``
      : sql`CROSS JOIN LATERAL (SELECT DISTINCT ${sql.join(
          eventDimensions.map(({ dimension, i }) => sql`${eventExpression(dimension)} AS ${sql.identifier(`e${i}`)}`),
          sql`, `,
        )} FROM raw_events e WHERE ${matchingEvents}) ev`;
  const when =
    window.days === null
      ? sql`v.ended_at >= ${window.start.toISOString()}::timestamptz AND v.started_at < ${window.end.toISOString()}::timestamptz`
      : sql`v.date BETWEEN ${window.days.from}::date AND ${window.days.to}::date`;
  const where = and([
    sql`v.site_id = ${plan.siteId}`,
    when,
    ...visitFilters(plan).map((filter) =>
      filterCondition(visitExpression(filter.dimension as Extract<NonTime, { level: 'visit' }>), filter),
    ),
    ...(eventFilters(plan).length > 0 && eventDimensions.length === 0
      ? [sql`EXISTS (SELECT 1 FROM raw_events e WHERE ${matchingEvents})`]
      : []),
  ]);
  return queryRows<RawVisitRow>(
    db,
    sql`SELECT ${dimensions} count(*) AS visits, count(*) FILTER (WHERE v.events = 1 AND v.pageviews = 1) AS bounces,
          coalesce(sum(floor(extract(epoch FROM v.ended_at - v.started_at))), 0) AS duration_s,
          coalesce(sum(v.pageviews), 0) AS visit_pageviews
        FROM visits v ${lateral}
        WHERE ${where} ${groupBy(plan)}`,
  );
}
