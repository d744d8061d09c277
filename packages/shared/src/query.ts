/**
 * The query API's request and answer (SPEC §12, `POST /api/query`), modelled on
 * Plausible's Stats API v2. Every message names the field it is about and, for
 * an unknown metric, dimension, operator or range, the value and what is known,
 * so the server can return them as they are:
 * `metrics.2: unknown metric "pageview" (known: visitors, visits, …)`.
 */
import { z } from 'zod';
import { LIMITS, UNSTORABLE } from './limits.js';
import { siteIdSchema } from './sites.js';

export const METRICS = [
  'visitors',
  'visits',
  'pageviews',
  'events',
  'bounceRate',
  'visitDuration',
  'viewsPerVisit',
] as const;
export type Metric = (typeof METRICS)[number];

export const TIME_DIMENSIONS = ['time:hour', 'time:day', 'time:week', 'time:month'] as const;
export type TimeDimension = (typeof TIME_DIMENSIONS)[number];

/** Properties of a visit: those of its first event, or its entry and exit page (SPEC §11). */
export const VISIT_DIMENSIONS = [
  'entryPage',
  'exitPage',
  'source',
  'channel',
  'referrer',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'utmTerm',
  'utmContent',
  'country',
  'region',
  'city',
  'device',
  'browser',
  'os',
  'language',
] as const;
export type VisitDimension = (typeof VISIT_DIMENSIONS)[number];

/** Properties of each event; `props:<key>` is one too. */
export const EVENT_DIMENSIONS = ['path', 'eventType'] as const;
export type EventDimension = (typeof EVENT_DIMENSIONS)[number];

export const PROPS_PREFIX = 'props:';
export type PropDimension = `props:${string}`;

export type FilterDimension = VisitDimension | EventDimension | PropDimension;
export type Dimension = TimeDimension | FilterDimension;

export const FILTER_OPERATORS = ['is', 'isNot', 'contains', 'notContains'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export const DATE_RANGES = [
  'today',
  'yesterday',
  '7d',
  '30d',
  'month',
  'lastMonth',
  '12mo',
  'year',
  'all',
  'realtime',
] as const;
export type NamedDateRange = (typeof DATE_RANGES)[number];

export const COMPARISONS = ['previousPeriod', 'yearOverYear'] as const;
export type Comparison = (typeof COMPARISONS)[number];

export const QUERY_LIMITS = {
  maxDimensions: 2,
  maxFilters: 20,
  maxFilterValues: 100,
  /** UTF-8 bytes of one filter value: room for any percent-encoded path the tracker sends. */
  maxFilterValueBytes: 2048,
  /** Days of a custom range: ten years and their leap days. */
  maxRangeDays: 3660,
  /** Days `time:hour` may span: 31 days are 744 buckets. */
  maxHourBucketDays: 31,
  defaultLimit: 10_000,
  maxLimit: 10_000,
  maxOffset: 1_000_000,
  /** The earliest day a range may start: events before 1970 are refused at ingestion. */
  minDate: '1970-01-01',
  /**
   * The latest day a range may end: a year short of PostgreSQL's and JS's last day, because time
   * buckets and a range's bounds reach past its end (the next week or month), which must be a date.
   */
  maxDate: '9998-12-31',
} as const;

const FILTERABLE_DIMENSIONS = [...EVENT_DIMENSIONS, ...VISIT_DIMENSIONS] as const;
const ALL_DIMENSIONS = [...TIME_DIMENSIONS, ...FILTERABLE_DIMENSIONS] as const;

export function isTimeDimension(value: string): value is TimeDimension {
  return (TIME_DIMENSIONS as readonly string[]).includes(value);
}

export function isPropDimension(value: string): value is PropDimension {
  return value.startsWith(PROPS_PREFIX);
}

/** Why `key` (after `props:`) is not a prop key an event can carry, or `null` when it is one. */
function propKeyProblem(key: string): string | null {
  if (key.length === 0) return 'needs a key after "props:"';
  if (key.length > LIMITS.propKeyMaxLength) return `has a key longer than ${LIMITS.propKeyMaxLength} characters`;
  if (UNSTORABLE.test(key)) return 'has a key with NUL (\\u0000) or unpaired surrogates';
  return null;
}

const where = (path: readonly PropertyKey[]) => path.map(String).join('.');
const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

function unknownMessage(what: string, known: string, issue: { path?: PropertyKey[]; input?: unknown }): string {
  const field = where(issue.path ?? []);
  if (typeof issue.input !== 'string') return `${field}: ${what} must be a string (known: ${known})`;
  return `${field}: unknown ${what} ${quote(issue.input)} (known: ${known})`;
}

export const metricSchema = z.enum(METRICS, {
  error: (issue) => unknownMessage('metric', METRICS.join(', '), issue),
});

const PROPS_HINT = 'props:<key>';

function dimensionSchema(filterable: boolean) {
  const names = filterable ? FILTERABLE_DIMENSIONS : ALL_DIMENSIONS;
  const known = `${names.join(', ')}, ${PROPS_HINT}`;
  const problem = (issue: { path?: PropertyKey[]; input?: unknown }) => {
    const input = issue.input;
    const field = where(issue.path ?? []);
    if (typeof input === 'string' && isPropDimension(input)) {
      return `${field}: dimension ${quote(input)} ${propKeyProblem(input.slice(PROPS_PREFIX.length)) ?? 'is invalid'}`;
    }
    if (filterable && typeof input === 'string' && isTimeDimension(input)) {
      return `${field}: ${quote(input)} cannot be filtered; choose the dateRange instead`;
    }
    return unknownMessage('dimension', known, issue);
  };
  const propKey = z.string().min(1).max(LIMITS.propKeyMaxLength);
  return z
    .union([z.enum(names), z.templateLiteral([PROPS_PREFIX, propKey])], { error: problem })
    .refine((name) => !UNSTORABLE.test(name), { error: problem });
}

export const dimensionNameSchema = dimensionSchema(false) as z.ZodType<Dimension, Dimension>;
export const filterDimensionSchema = dimensionSchema(true) as z.ZodType<FilterDimension, FilterDimension>;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Why `value` is not a day a range may name, or `null` when it is one. */
function dayProblem(value: unknown): string | null {
  if (typeof value !== 'string' || !DAY_PATTERN.test(value)) return 'must be a date in YYYY-MM-DD format';
  const parsed = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || !parsed.toISOString().startsWith(value)) return 'must be a real calendar date';
  if (value < QUERY_LIMITS.minDate || value > QUERY_LIMITS.maxDate)
    return `must be between ${QUERY_LIMITS.minDate} and ${QUERY_LIMITS.maxDate}`;
  return null;
}

const daySchema = z
  .string({ error: (issue) => `${where(issue.path ?? [])}: must be a date in YYYY-MM-DD format` })
  .refine((value) => dayProblem(value) === null, {
    error: (issue) => `${where(issue.path ?? [])}: ${quote(issue.input)} ${dayProblem(issue.input)}`,
  });

/** Whole days from `from` to `to`, both `YYYY-MM-DD` (UTC arithmetic: calendar days, whatever the zone). */
function dayCount(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

const RANGE_HINT = `${DATE_RANGES.join(', ')}, or ["YYYY-MM-DD", "YYYY-MM-DD"]`;

const customRangeSchema = z
  .tuple([daySchema, daySchema], {
    error: (issue) => `${where(issue.path ?? [])}: a custom range is two dates, ["YYYY-MM-DD", "YYYY-MM-DD"]`,
  })
  .superRefine(([from, to], ctx) => {
    if (dayProblem(from) || dayProblem(to)) return;
    if (to < from) ctx.addIssue({ code: 'custom', message: `dateRange: ${quote(to)} is before ${quote(from)}` });
    else if (dayCount(from, to) > QUERY_LIMITS.maxRangeDays)
      ctx.addIssue({
        code: 'custom',
        message: `dateRange: ${from} to ${to} spans ${dayCount(from, to)} days; at most ${QUERY_LIMITS.maxRangeDays}`,
      });
  });

export const dateRangeSchema = z.union([z.enum(DATE_RANGES), customRangeSchema], {
  error: (issue) =>
    issue.input === undefined
      ? 'dateRange should not be empty'
      : typeof issue.input === 'string'
        ? `${where(issue.path ?? [])}: unknown range ${quote(issue.input)} (known: ${RANGE_HINT})`
        : `${where(issue.path ?? [])}: must be one of ${RANGE_HINT}`,
});

/** UTF-8 length, counted by code point (this package runs without DOM or Node typings). */
function utf8Bytes(value: string): number {
  let bytes = 0;
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

const filterValueSchema = z
  .string({ error: (issue) => `${where(issue.path ?? [])}: a filter value must be a string` })
  .min(1, { error: (issue) => `${where(issue.path ?? [])}: a filter value must not be empty`, abort: true })
  .refine((value) => utf8Bytes(value) <= QUERY_LIMITS.maxFilterValueBytes, {
    error: (issue) =>
      `${where(issue.path ?? [])}: a filter value must be at most ${QUERY_LIMITS.maxFilterValueBytes} bytes`,
    abort: true,
  })
  .refine((value) => !UNSTORABLE.test(value), {
    error: (issue) =>
      `${where(issue.path ?? [])}: a filter value must not contain NUL (\\u0000) or unpaired surrogates`,
  });

export const filterSchema = z.tuple(
  [
    z.enum(FILTER_OPERATORS, {
      error: (issue) => unknownMessage('operator', FILTER_OPERATORS.join(', '), issue),
    }),
    filterDimensionSchema,
    z
      .array(filterValueSchema, {
        error: (issue) => `${where(issue.path ?? [])}: filter values must be a list of strings`,
      })
      .min(1, { error: (issue) => `${where(issue.path ?? [])}: a filter needs at least one value` })
      .max(QUERY_LIMITS.maxFilterValues, {
        error: (issue) => `${where(issue.path ?? [])}: a filter takes at most ${QUERY_LIMITS.maxFilterValues} values`,
      }),
  ],
  {
    error: (issue) => `${where(issue.path ?? [])}: a filter is [operator, dimension, [values…]]`,
  },
);

export const orderDirectionSchema = z.enum(['asc', 'desc'], {
  error: (issue) => `${where(issue.path ?? [])}: must be "asc" or "desc"`,
});

export const queryRequestSchema = z
  .strictObject({
    siteId: siteIdSchema,
    metrics: z
      .array(metricSchema, {
        error: (issue) =>
          issue.input === undefined ? 'metrics should not be empty' : 'metrics must be a list of metric names',
      })
      .min(1, 'metrics must name at least one metric'),
    dateRange: dateRangeSchema,
    dimensions: z
      .array(dimensionNameSchema, { error: 'dimensions must be a list of dimension names' })
      .max(QUERY_LIMITS.maxDimensions, `dimensions must hold at most ${QUERY_LIMITS.maxDimensions}`)
      .default([]),
    filters: z
      .array(filterSchema, { error: 'filters must be a list of [operator, dimension, [values…]]' })
      .max(QUERY_LIMITS.maxFilters, `filters must hold at most ${QUERY_LIMITS.maxFilters}`)
      .default([]),
    orderBy: z
      .array(
        z.tuple([z.string(), orderDirectionSchema], {
          error: (issue) => `${where(issue.path ?? [])}: an order is [metricOrDimension, "asc" | "desc"]`,
        }),
        { error: 'orderBy must be a list of [metricOrDimension, "asc" | "desc"]' },
      )
      .optional(),
    limit: z
      .number({ error: 'limit must be a whole number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(QUERY_LIMITS.maxLimit, `limit must be at most ${QUERY_LIMITS.maxLimit}`)
      .default(QUERY_LIMITS.defaultLimit),
    offset: z
      .number({ error: 'offset must be a whole number' })
      .int('offset must be a whole number')
      .min(0, 'offset must not be negative')
      .max(QUERY_LIMITS.maxOffset, `offset must be at most ${QUERY_LIMITS.maxOffset}`)
      .default(0),
    compare: z
      .enum(COMPARISONS, {
        error: (issue) => unknownMessage('comparison', COMPARISONS.join(', '), issue),
      })
      .optional(),
    format: z.enum(['json', 'csv'], { error: 'format must be "json" or "csv"' }).default('json'),
  })
  .superRefine((query, ctx) => {
    const seen = (list: readonly string[], field: string, what: string) =>
      list.forEach((name, index) => {
        if (list.indexOf(name) !== index)
          ctx.addIssue({
            code: 'custom',
            path: [field, index],
            message: `${field}.${index}: ${what} ${quote(name)} is given twice`,
          });
      });
    seen(query.metrics, 'metrics', 'metric');
    seen(query.dimensions, 'dimensions', 'dimension');
    if (query.dimensions.filter(isTimeDimension).length > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['dimensions'],
        message: `dimensions: at most one time dimension (given ${query.dimensions.filter(isTimeDimension).join(', ')})`,
      });
    const orderable: readonly string[] = [...query.metrics, ...query.dimensions];
    const ordered = (query.orderBy ?? []).map(([name]) => name);
    ordered.forEach((name, index) => {
      if (!orderable.includes(name))
        ctx.addIssue({
          code: 'custom',
          path: ['orderBy', index, 0],
          message: `orderBy.${index}: ${quote(name)} is not a requested metric or dimension (requested: ${orderable.join(', ')})`,
        });
      else if (ordered.indexOf(name) !== index)
        ctx.addIssue({
          code: 'custom',
          path: ['orderBy', index, 0],
          message: `orderBy.${index}: ${quote(name)} is ordered twice`,
        });
    });
    if (query.dateRange === 'realtime') {
      if (query.compare !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['compare'],
          message: 'compare: a realtime query has nothing to compare',
        });
      const time = query.dimensions.find(isTimeDimension);
      if (time !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['dimensions'],
          message: `dimensions: ${quote(time)} needs a dateRange of days, not "realtime"`,
        });
    }
    if (query.dateRange === 'all' && query.compare !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['compare'],
        message: 'compare: dateRange "all" has no period before it to compare with',
      });
  });

/** What a client sends (defaults may be left out). */
export type QueryRequest = z.input<typeof queryRequestSchema>;
/** The request after parsing: defaults filled in. */
export type ParsedQuery = z.output<typeof queryRequestSchema>;
export type DateRange = ParsedQuery['dateRange'];
export type Filter = ParsedQuery['filters'][number];
export type OrderBy = NonNullable<ParsedQuery['orderBy']>;

const metricValue = z.number();

export const queryResultRowSchema = z.object({
  /** One value per requested dimension, in order; `null` where the value is unknown (e.g. no country). */
  dimensions: z.array(z.string().nullable()),
  /** One value per requested metric, in order. */
  metrics: z.array(metricValue),
  comparison: z
    .object({
      metrics: z.array(metricValue),
      /** Change in % from the comparison period, per metric; `null` where the comparison value is 0. */
      change: z.array(z.number().nullable()),
    })
    .optional(),
});

export const queryResponseSchema = z.object({
  results: z.array(queryResultRowSchema),
  meta: z.object({
    metrics: z.array(z.enum(METRICS)),
    dimensions: z.array(z.string()),
    /** Site-local days `[from, to]`, inclusive; ISO instants for `realtime`. */
    dateRange: z.tuple([z.string(), z.string()]),
    timeZone: z.string(),
    /** Rows of the whole answer before `limit` and `offset`. */
    totalRows: z.number().int(),
    /** Metrics that were estimated (from visitor sketches), not counted exactly. */
    approximate: z.array(z.enum(METRICS)),
    comparison: z.object({ dateRange: z.tuple([z.string(), z.string()]) }).optional(),
  }),
});

export type QueryResultRow = z.infer<typeof queryResultRowSchema>;
export type QueryResponse = z.infer<typeof queryResponseSchema>;
export type QueryMeta = QueryResponse['meta'];
