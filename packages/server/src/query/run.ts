/**
 * Runs a query plan: counts from `sql.ts`, then the answer — metrics derived,
 * time buckets zero-filled, ordered, paged, compared. Visitor sketches are
 * the costly part of a breakdown, so when the order does not need `visitors`
 * they are merged only for the rows of the page (and of its comparison), and
 * when it does, only for the rows that can reach the page (`top-visitors.ts`).
 */
import type { Metric, QueryMeta, QueryResultRow } from '@tally/shared';
import type { Database } from '../db/client.js';
import { aggregatePairs, type PairSource, pairSource } from './pairs.js';
import { metaOf, percentChange, type QueryPlan } from './plan.js';
import { addDays, startOfLocalDay, type TimeBucket } from './ranges.js';
import {
  type Aggregate,
  type AggregatedRow,
  aggregateRaw,
  aggregateRollups,
  type Counts,
  chooseSource,
  rollupVisitorBounds,
  type Source,
  zeroCounts,
} from './sql.js';
import { rowsByVisitors } from './top-visitors.js';

export interface QueryAnswer {
  results: QueryResultRow[];
  meta: QueryMeta;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function metricValue(metric: Metric, counts: Counts): number {
  switch (metric) {
    case 'visitors':
      return counts.visitors;
    case 'visits':
      return counts.visits;
    case 'pageviews':
      return counts.pageviews;
    case 'events':
      return counts.events;
    case 'bounceRate':
      return counts.visits === 0 ? 0 : round((counts.bounces / counts.visits) * 100, 1);
    case 'visitDuration':
      return counts.visits === 0 ? 0 : Math.round(counts.durationS / counts.visits);
    case 'viewsPerVisit':
      return counts.visits === 0 ? 0 : round(counts.visitPageviews / counts.visits, 2);
  }
}

interface Period {
  from: string;
  to: string;
  buckets: TimeBucket[] | null;
}

async function aggregate(
  db: Database,
  plan: QueryPlan,
  source: Source | PairSource,
  period: Period | null,
  options: { visitors: boolean; values: string[] | null; visitorsOnly?: boolean },
): Promise<Aggregate> {
  if (plan.range.kind === 'realtime') {
    return aggregateRaw(
      db,
      plan,
      { days: null, start: plan.range.start, end: plan.range.end, buckets: null },
      { visitors: options.visitors },
    );
  }
  const { from, to, buckets } = period as Period;
  if (source.kind === 'pairs') return aggregatePairs(db, plan, source, { from, to, buckets }, options);
  if (source.kind === 'rollups') return aggregateRollups(db, plan, source.dimension, { from, to, buckets }, options);
  const start = startOfLocalDay(from, plan.timeZone);
  const end = startOfLocalDay(addDays(to, 1), plan.timeZone);
  return aggregateRaw(db, plan, { days: { from, to }, start, end, buckets }, { visitors: options.visitors });
}

const keyOf = (dimensions: (string | number)[]) => JSON.stringify(dimensions);

/** Every bucket of the range for each combination of the other dimension's values seen. */
function zeroFill(plan: QueryPlan, rows: AggregatedRow[]): AggregatedRow[] {
  const buckets = plan.buckets;
  const timeIndex = plan.dimensions.findIndex((dimension) => dimension.level === 'time');
  if (buckets === null || timeIndex < 0) return rows;
  const byKey = new Map(rows.map((row) => [keyOf(row.dimensions), row]));
  const others = new Map<string, (string | number)[]>();
  if (plan.dimensions.length === 1) others.set(keyOf([]), []);
  for (const row of rows) {
    const rest = row.dimensions.filter((_, i) => i !== timeIndex);
    others.set(keyOf(rest), rest);
  }
  const filled: AggregatedRow[] = [];
  for (const rest of others.values()) {
    for (let bucket = 0; bucket < buckets.length; bucket++) {
      const dimensions = [...rest];
      dimensions.splice(timeIndex, 0, bucket);
      filled.push(byKey.get(keyOf(dimensions)) ?? { dimensions, counts: zeroCounts() });
    }
  }
  return filled;
}

function compareRows(plan: QueryPlan): (a: AggregatedRow, b: AggregatedRow) => number {
  const keys = plan.orderBy.map(([name]) => {
    const metric = plan.metrics.indexOf(name as Metric);
    const dimension = plan.dimensions.findIndex((d) => d.name === name);
    return (row: AggregatedRow): number | string =>
      metric >= 0
        ? metricValue(plan.metrics[metric] as Metric, row.counts)
        : (row.dimensions[dimension] as string | number);
  });
  const signs = plan.orderBy.map(([, direction]) => (direction === 'asc' ? 1 : -1));
  return (a, b) => {
    for (const [i, key] of keys.entries()) {
      const x = key(a);
      const y = key(b);
      if (x < y) return -(signs[i] as number);
      if (x > y) return signs[i] as number;
    }
    return 0;
  };
}

/** The non-time values of some rows, to read only those from the rollups; `null` for no restriction. */
function valuesOf(plan: QueryPlan, rows: AggregatedRow[]): string[] | null {
  const index = plan.dimensions.findIndex((dimension) => dimension.level !== 'time');
  if (index < 0) return null;
  return [...new Set(rows.map((row) => row.dimensions[index] as string))];
}

/**
 * Whether `rowsByVisitors` ranks this plan: a rollup breakdown ordered by
 * visitors (descending) first, whose rows span several days (one day's rows
 * have exact counts, read without any sketch).
 */
function ranksByVisitors(plan: QueryPlan, source: Source | PairSource): boolean {
  const [first] = plan.orderBy;
  if (source.kind !== 'rollups' || plan.range.kind !== 'days') return false;
  if (first?.[0] !== 'visitors' || first[1] !== 'desc') return false;
  if (!plan.dimensions.some((dimension) => dimension.level !== 'time')) return false;
  const time = plan.dimensions.find((dimension) => dimension.level === 'time');
  return time === undefined ? plan.range.from !== plan.range.to : time.bucket !== 'day';
}

/**
 * `prune: false` merges every row's sketches to order by visitors; `pairs: false` reads a filtered breakdown
 * from raw events and visits even where pair rollups could answer it (the tests compare both ways).
 */
export async function runQuery(
  db: Database,
  plan: QueryPlan,
  options: { prune?: boolean; pairs?: boolean } = {},
): Promise<QueryAnswer> {
  const source = (options.pairs !== false && pairSource(plan)) || chooseSource(plan);
  const wantsVisitors = plan.metrics.includes('visitors');
  const orderNeedsVisitors = plan.orderBy.some(([name]) => name === 'visitors');
  const breakdown = plan.dimensions.some((dimension) => dimension.level !== 'time');
  // Sketches for the page only: a rollup breakdown whose order does not read visitors.
  const visitorsLater = wantsVisitors && !orderNeedsVisitors && breakdown && source.kind !== 'raw';
  // Sketches for the rows that can reach the page: a rollup breakdown ordered by visitors.
  const visitorsRanked = options.prune !== false && ranksByVisitors(plan, source);
  const period: Period | null =
    plan.range.kind === 'days' ? { from: plan.range.from, to: plan.range.to, buckets: plan.buckets } : null;

  // Ranking by visitors reads each row's bounds beside its counters.
  const bounds =
    visitorsRanked && source.kind === 'rollups' && period !== null
      ? rollupVisitorBounds(db, plan, source.dimension, period)
      : undefined;
  bounds?.catch(() => {});
  // Without a breakdown the comparison period's rows do not depend on the page: read them beside the main ones.
  const comparison = plan.comparison;
  const early =
    comparison !== null && !breakdown
      ? aggregate(
          db,
          plan,
          source,
          { from: comparison.range.from, to: comparison.range.to, buckets: comparison.buckets },
          { visitors: wantsVisitors, values: null },
        )
      : undefined;
  early?.catch(() => {});
  const main = await aggregate(db, plan, source, period, {
    visitors: wantsVisitors && !visitorsLater && !visitorsRanked,
    values: null,
  });
  let estimated = main.visitorsEstimated;
  const rows = zeroFill(plan, main.rows);
  let ranked = rows;
  if (visitorsRanked && source.kind === 'rollups' && period !== null) {
    const found = await rowsByVisitors(db, plan, source.dimension, period, rows, bounds);
    ranked = found.rows;
    estimated ||= found.estimated;
  }
  const page = ranked.sort(compareRows(plan)).slice(plan.offset, plan.offset + plan.limit);

  if (visitorsLater && page.length > 0) {
    // The counters are known: only the page's visitors are read.
    const later = await aggregate(db, plan, source, period, {
      visitors: true,
      values: valuesOf(plan, page),
      visitorsOnly: true,
    });
    const visitors = new Map(later.rows.map((row) => [keyOf(row.dimensions), row.counts.visitors]));
    for (const row of page) row.counts.visitors = visitors.get(keyOf(row.dimensions)) ?? 0;
    estimated ||= later.visitorsEstimated;
  }

  let previous: Map<string, Counts> | null = null;
  if (plan.comparison !== null && page.length > 0) {
    const { range, buckets } = plan.comparison;
    const other = await (early ??
      aggregate(
        db,
        plan,
        source,
        { from: range.from, to: range.to, buckets },
        { visitors: wantsVisitors, values: valuesOf(plan, page) },
      ));
    estimated ||= other.visitorsEstimated;
    previous = new Map(other.rows.map((row) => [keyOf(row.dimensions), row.counts]));
  }

  const results = page.map((row): QueryResultRow => {
    const metrics = plan.metrics.map((metric) => metricValue(metric, row.counts));
    const dimensions = row.dimensions.map((value, i) =>
      plan.dimensions[i]?.level === 'time'
        ? ((plan.buckets?.[value as number]?.key ?? null) as string | null)
        : String(value),
    );
    if (previous === null) return { dimensions, metrics };
    const counts = previous.get(keyOf(row.dimensions)) ?? zeroCounts();
    const before = plan.metrics.map((metric) => metricValue(metric, counts));
    return {
      dimensions,
      metrics,
      comparison: { metrics: before, change: metrics.map((value, i) => percentChange(value, before[i] as number)) },
    };
  });
  const meta = metaOf(plan, rows.length);
  return { results, meta: { ...meta, approximate: wantsVisitors && estimated ? ['visitors'] : [] } };
}
