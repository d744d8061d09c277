/**
 * A query is a plan, then SQL (STYLE 17). This module turns a parsed
 * `POST /api/query` request, the site's time zone and "now" into a small plan:
 * what to count, by what, over which site-local days, compared with which
 * days, in what order, and which metrics will be estimated. Pure functions; the
 * SQL layer reads the plan and never the raw request.
 */
import {
  type Comparison,
  type Dimension,
  type FilterOperator,
  isPropDimension,
  isTimeDimension,
  type Metric,
  type ParsedQuery,
  PROPS_PREFIX,
  QUERY_LIMITS,
  type QueryMeta,
  type TimeDimension,
  type VisitDimension,
} from '@tally/shared';
import { ValidationError } from '../errors.js';
import {
  type BucketSize,
  comparisonRange,
  type DayRange,
  dayCount,
  realtimeRange,
  resolveDateRange,
  type TimeBucket,
  timeBuckets,
} from './ranges.js';

/**
 * Where a dimension's value lives: `time` buckets the range; `visit` values
 * belong to a visit (its first event's source, device, country…, or its
 * entry/exit page); `event` values belong to each event (path, type, props).
 */
export type PlannedDimension =
  | { name: TimeDimension; level: 'time'; bucket: BucketSize }
  | { name: VisitDimension; level: 'visit' }
  | { name: 'path' | 'eventType'; level: 'event' }
  | { name: `props:${string}`; level: 'event'; propKey: string };

export interface PlannedFilter {
  operator: FilterOperator;
  dimension: Exclude<PlannedDimension, { level: 'time' }>;
  values: string[];
}

export type PlannedRange =
  | ({ kind: 'days'; days: number } & DayRange)
  /** `realtime`: instants, `[start, end)`. */
  | { kind: 'realtime'; start: Date; end: Date };

export interface PlannedComparison {
  mode: Comparison;
  range: { kind: 'days'; days: number } & DayRange;
  /** The comparison period's buckets when a time dimension is asked for; row i compares with bucket i. */
  buckets: TimeBucket[] | null;
}

export type OrderDirection = 'asc' | 'desc';

export interface QueryPlan {
  siteId: string;
  timeZone: string;
  metrics: Metric[];
  dimensions: PlannedDimension[];
  filters: PlannedFilter[];
  range: PlannedRange;
  /** The zero-filled buckets of the time dimension, if one is asked for. */
  buckets: TimeBucket[] | null;
  comparison: PlannedComparison | null;
  /** Complete: the request's order, then tie-breakers, so pages never overlap. */
  orderBy: [Metric | Dimension, OrderDirection][];
  limit: number;
  offset: number;
  /** Metrics that will come from sketches rather than exact counts. */
  approximate: Metric[];
  format: 'json' | 'csv';
}

export interface PlanContext {
  timeZone: string;
  now: Date;
  /** The site's first event day, for `dateRange: "all"`; `null` when it has none. */
  firstEventDay: string | null;
}

const BUCKETS: Record<TimeDimension, BucketSize> = {
  'time:hour': 'hour',
  'time:day': 'day',
  'time:week': 'week',
  'time:month': 'month',
};

export function classifyDimension(name: Dimension): PlannedDimension {
  if (isTimeDimension(name)) return { name, level: 'time', bucket: BUCKETS[name] };
  if (isPropDimension(name)) return { name, level: 'event', propKey: name.slice(PROPS_PREFIX.length) };
  if (name === 'path' || name === 'eventType') return { name, level: 'event' };
  return { name, level: 'visit' };
}

function describeRange(request: ParsedQuery['dateRange']): string {
  return typeof request === 'string' ? JSON.stringify(request) : `${request[0]} to ${request[1]}`;
}

/**
 * Whether `visitors` must be estimated. Exact counts exist per site-local day
 * (part one's distinct visitors) and for `realtime` (read from raw events);
 * a row that spans several days, or counts only the visitors of one dimension
 * value or filter, merges HyperLogLog sketches instead.
 */
export function visitorsAreApproximate(plan: Pick<QueryPlan, 'range' | 'dimensions' | 'filters'>): boolean {
  if (plan.range.kind === 'realtime') return false;
  if (plan.filters.length > 0) return true;
  if (plan.dimensions.some((dimension) => dimension.level !== 'time')) return true;
  const time = plan.dimensions.find((dimension) => dimension.level === 'time');
  const rowIsOneDayAtMost =
    time === undefined ? plan.range.days === 1 : time.bucket === 'hour' || time.bucket === 'day';
  return !rowIsOneDayAtMost;
}

/**
 * The default order answers the common question: a time series runs forward
 * in time; a breakdown shows its biggest rows first. Whatever the request
 * orders by, the dimensions follow ascending, so equal rows have one order and
 * `offset` pages never repeat or skip a row.
 */
export function completeOrder(
  requested: ParsedQuery['orderBy'],
  metrics: readonly Metric[],
  dimensions: readonly Dimension[],
): [Metric | Dimension, OrderDirection][] {
  const order: [Metric | Dimension, OrderDirection][] = [];
  const add = (name: Metric | Dimension, direction: OrderDirection) => {
    if (!order.some(([existing]) => existing === name)) order.push([name, direction]);
  };
  if (requested !== undefined && requested.length > 0) {
    for (const [name, direction] of requested) add(name as Metric | Dimension, direction);
  } else {
    const time = dimensions.find(isTimeDimension);
    if (time !== undefined) add(time, 'asc');
    if (dimensions.some((dimension) => !isTimeDimension(dimension))) add(metrics[0] as Metric, 'desc');
  }
  for (const dimension of dimensions) add(dimension, 'asc');
  return order;
}

/** Turns a parsed request into a plan, or throws a `ValidationError` naming what cannot be answered. */
export function planQuery(query: ParsedQuery, context: PlanContext): QueryPlan {
  const problems: string[] = [];
  const dimensions = query.dimensions.map(classifyDimension);
  const filters = query.filters.map(([operator, dimension, values]): PlannedFilter => {
    const planned = classifyDimension(dimension);
    // The schema refuses time dimensions in filters; this keeps the type honest.
    if (planned.level === 'time') throw new ValidationError([`filters: ${dimension} cannot be filtered`]);
    return { operator, dimension: planned, values };
  });

  let range: PlannedRange;
  if (query.dateRange === 'realtime') {
    range = { kind: 'realtime', ...realtimeRange(context.now) };
  } else {
    const days = resolveDateRange(query.dateRange, context);
    range = { kind: 'days', ...days, days: dayCount(days) };
  }

  const time = dimensions.find((dimension) => dimension.level === 'time');
  if (time?.bucket === 'hour' && range.kind === 'days' && range.days > QUERY_LIMITS.maxHourBucketDays) {
    problems.push(
      `dimensions: "time:hour" spans at most ${QUERY_LIMITS.maxHourBucketDays} days; dateRange ${describeRange(query.dateRange)} is ${range.days} days (use "time:day")`,
    );
  }
  if (problems.length > 0) throw new ValidationError(problems);

  const buckets =
    time !== undefined && range.kind === 'days' ? timeBuckets(range, time.bucket, context.timeZone) : null;

  let comparison: PlannedComparison | null = null;
  if (query.compare !== undefined && range.kind === 'days') {
    const days = comparisonRange(range, query.compare);
    comparison = {
      mode: query.compare,
      range: { kind: 'days', ...days, days: dayCount(days) },
      buckets: time !== undefined ? timeBuckets(days, time.bucket, context.timeZone) : null,
    };
  }

  const plan = {
    siteId: query.siteId,
    timeZone: context.timeZone,
    metrics: query.metrics,
    dimensions,
    filters,
    range,
    buckets,
    comparison,
    orderBy: completeOrder(query.orderBy, query.metrics, query.dimensions),
    limit: query.limit,
    offset: query.offset,
    format: query.format,
  };
  const approximate: Metric[] = query.metrics.includes('visitors') && visitorsAreApproximate(plan) ? ['visitors'] : [];
  return { ...plan, approximate };
}

/**
 * A request's answer-cache key: everything its answer depends on besides the
 * data, resolved as `planQuery` resolves it. Named ranges become the site-local
 * days, so a `today` or `7d` key rolls over at the site's midnight (time
 * buckets follow from the days, the zone and the dimension); the order is the
 * completed one. Built from the parsed request, so requests that differ only
 * in key order (or name the same days differently) share an entry. Not
 * `format`: JSON and CSV are written from one answer. `realtime` moves with the
 * clock and has none. Cheaper than a plan (no buckets), so a cached answer is
 * found without planning; a request `planQuery` refuses is never stored.
 */
export function answerKey(query: ParsedQuery, context: PlanContext): string | undefined {
  if (query.dateRange === 'realtime') return undefined;
  const days = resolveDateRange(query.dateRange, context);
  const compared = query.compare === undefined ? null : comparisonRange(days, query.compare);
  return JSON.stringify([
    context.timeZone,
    days.from,
    days.to,
    query.metrics,
    query.dimensions,
    query.filters,
    completeOrder(query.orderBy, query.metrics, query.dimensions),
    query.limit,
    query.offset,
    compared && [query.compare, compared.from, compared.to],
  ]);
}

/**
 * Change from the comparison period in %, one decimal. Both zero is no change;
 * growth from zero has no percentage and is `null`.
 */
export function percentChange(current: number, previous: number): number | null {
  if (previous === 0) return current === 0 ? 0 : null;
  return Math.round(((current - previous) / previous) * 1000) / 10;
}

/** The answer's `meta` for a plan and the number of rows before `limit`/`offset`. */
export function metaOf(plan: QueryPlan, totalRows: number): QueryMeta {
  const dateRange: [string, string] =
    plan.range.kind === 'realtime'
      ? [plan.range.start.toISOString(), plan.range.end.toISOString()]
      : [plan.range.from, plan.range.to];
  return {
    metrics: plan.metrics,
    dimensions: plan.dimensions.map((dimension) => dimension.name),
    dateRange,
    timeZone: plan.timeZone,
    totalRows,
    approximate: plan.approximate,
    ...(plan.comparison !== null && {
      comparison: { dateRange: [plan.comparison.range.from, plan.comparison.range.to] },
    }),
  };
}
