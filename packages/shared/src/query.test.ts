import { describe, expect, test } from 'vitest';
import { formatIssues } from './errors.js';
import { QUERY_LIMITS, type QueryRequest, queryRequestSchema, queryResponseSchema } from './query.js';

const base = { siteId: 'my_site', metrics: ['visitors'], dateRange: '7d' } satisfies QueryRequest;

/** The messages the server would answer with, or `[]` when the request parses. */
function problems(request: unknown): string[] {
  const parsed = queryRequestSchema.safeParse(request);
  return parsed.success ? [] : formatIssues(parsed.error.issues);
}

describe('valid requests', () => {
  test('the example of SPEC §12 parses as it is', () => {
    const parsed = queryRequestSchema.parse({
      siteId: 'my_site',
      metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'visitDuration', 'viewsPerVisit'],
      dateRange: '7d',
      dimensions: ['source'],
      filters: [
        ['is', 'country', ['DE', 'FR']],
        ['contains', 'path', ['/blog']],
      ],
      orderBy: [['visitors', 'desc']],
      limit: 10,
      offset: 0,
      compare: 'previousPeriod',
    });
    expect(parsed.dimensions).toEqual(['source']);
    expect(parsed.filters[1]).toEqual(['contains', 'path', ['/blog']]);
    expect(parsed.format).toBe('json');
  });

  test('defaults: no dimensions, no filters, limit 10000, offset 0, json', () => {
    expect(queryRequestSchema.parse(base)).toEqual({
      ...base,
      dimensions: [],
      filters: [],
      limit: QUERY_LIMITS.defaultLimit,
      offset: 0,
      format: 'json',
    });
    expect(QUERY_LIMITS.defaultLimit).toBe(10_000);
  });

  test.each(['today', 'yesterday', '7d', '30d', 'month', 'lastMonth', '12mo', 'year', 'all', 'realtime'])(
    'dateRange %s',
    (dateRange) => {
      expect(problems({ ...base, dateRange })).toEqual([]);
    },
  );

  test('custom ranges: one day, a leap day, ten years', () => {
    expect(problems({ ...base, dateRange: ['2024-03-10', '2024-03-10'] })).toEqual([]);
    expect(problems({ ...base, dateRange: ['2024-02-29', '2024-03-01'] })).toEqual([]);
    expect(problems({ ...base, dateRange: ['2015-01-01', '2024-12-31'] })).toEqual([]);
  });

  test('props dimensions, two dimensions with one of time, every operator, csv', () => {
    expect(
      problems({
        ...base,
        metrics: ['events'],
        dimensions: ['time:day', 'props:plan'],
        filters: [
          ['is', 'eventType', ['signup']],
          ['isNot', 'props:plan', ['free']],
          ['contains', 'utmCampaign', ['spring', 'launch']],
          ['notContains', 'city', ['Berlin']],
        ],
        orderBy: [
          ['time:day', 'asc'],
          ['events', 'desc'],
        ],
        format: 'csv',
        compare: 'yearOverYear',
      }),
    ).toEqual([]);
  });

  test('a filter value of 2048 ASCII bytes is accepted', () => {
    expect(problems({ ...base, filters: [['is', 'path', [`/${'a'.repeat(2047)}`]]] })).toEqual([]);
  });
});

describe('each problem answers a message naming it', () => {
  test.each<[string, unknown, string[]]>([
    [
      'unknown metric',
      { ...base, metrics: ['visitors', 'visits', 'pageview'] },
      [
        'metrics.2: unknown metric "pageview" (known: visitors, visits, pageviews, events, bounceRate, visitDuration, viewsPerVisit)',
      ],
    ],
    ['no metric', { ...base, metrics: [] }, ['metrics must name at least one metric']],
    ['metrics missing', { siteId: 's', dateRange: '7d' }, ['metrics should not be empty']],
    ['metrics not a list', { ...base, metrics: 'visitors' }, ['metrics must be a list of metric names']],
    ['a metric twice', { ...base, metrics: ['visitors', 'visitors'] }, ['metrics.1: metric "visitors" is given twice']],
    ['a dimension twice', { ...base, dimensions: ['path', 'path'] }, ['dimensions.1: dimension "path" is given twice']],
    [
      'two time dimensions',
      { ...base, dimensions: ['time:day', 'time:hour'] },
      ['dimensions: at most one time dimension (given time:day, time:hour)'],
    ],
    ['three dimensions', { ...base, dimensions: ['path', 'source', 'country'] }, ['dimensions must hold at most 2']],
    [
      'props without a key',
      { ...base, dimensions: ['props:'] },
      ['dimensions.0: dimension "props:" needs a key after "props:"'],
    ],
    [
      'props key too long',
      { ...base, dimensions: [`props:${'k'.repeat(65)}`] },
      [`dimensions.0: dimension "props:${'k'.repeat(65)}" has a key longer than 64 characters`],
    ],
    [
      'props key with NUL',
      { ...base, dimensions: ['props:a\u0000'] },
      ['dimensions.0: dimension "props:a\\u0000" has a key with NUL (\\u0000) or unpaired surrogates'],
    ],
    [
      'unknown range',
      { ...base, dateRange: '8d' },
      [
        'dateRange: unknown range "8d" (known: today, yesterday, 7d, 30d, month, lastMonth, 12mo, year, all, realtime, or ["YYYY-MM-DD", "YYYY-MM-DD"])',
      ],
    ],
    [
      'a range of one date',
      { ...base, dateRange: ['2024-03-01'] },
      [
        'dateRange: must be one of today, yesterday, 7d, 30d, month, lastMonth, 12mo, year, all, realtime, or ["YYYY-MM-DD", "YYYY-MM-DD"]',
      ],
    ],
    ['range missing', { siteId: 's', metrics: ['visitors'] }, ['dateRange should not be empty']],
    [
      'an impossible date',
      { ...base, dateRange: ['2023-02-29', '2023-03-01'] },
      ['dateRange.0: "2023-02-29" must be a real calendar date'],
    ],
    [
      'a date not in YYYY-MM-DD',
      { ...base, dateRange: ['2024-3-1', '2024-03-02'] },
      ['dateRange.0: "2024-3-1" must be a date in YYYY-MM-DD format'],
    ],
    [
      'a date before 1970',
      { ...base, dateRange: ['1969-12-31', '1970-01-01'] },
      ['dateRange.0: "1969-12-31" must be between 1970-01-01 and 9998-12-31'],
    ],
    [
      'from after to',
      { ...base, dateRange: ['2024-03-02', '2024-03-01'] },
      ['dateRange: "2024-03-01" is before "2024-03-02"'],
    ],
    [
      'too long a range',
      { ...base, dateRange: ['2000-01-01', '2024-03-01'] },
      ['dateRange: 2000-01-01 to 2024-03-01 spans 8827 days; at most 3660'],
    ],
    [
      'unknown operator',
      { ...base, filters: [['equals', 'path', ['/']]] },
      ['filters.0.0: unknown operator "equals" (known: is, isNot, contains, notContains)'],
    ],
    [
      'unknown filter dimension',
      { ...base, filters: [['is', 'pth', ['/']]] },
      [
        'filters.0.1: unknown dimension "pth" (known: path, eventType, entryPage, exitPage, source, channel, referrer, utmSource, utmMedium, utmCampaign, utmTerm, utmContent, country, region, city, device, browser, os, language, props:<key>)',
      ],
    ],
    [
      'a time dimension filtered',
      { ...base, filters: [['is', 'time:day', ['2024-01-01']]] },
      ['filters.0.1: "time:day" cannot be filtered; choose the dateRange instead'],
    ],
    ['no filter value', { ...base, filters: [['is', 'path', []]] }, ['filters.0.2: a filter needs at least one value']],
    [
      'an empty value',
      { ...base, filters: [['is', 'path', ['/', '']]] },
      ['filters.0.2.1: a filter value must not be empty'],
    ],
    [
      'a value that is no string',
      { ...base, filters: [['is', 'path', [3]]] },
      ['filters.0.2.0: a filter value must be a string'],
    ],
    [
      'values not a list',
      { ...base, filters: [['is', 'path', '/']] },
      ['filters.0.2: filter values must be a list of strings'],
    ],
    [
      'a value over the byte limit',
      { ...base, filters: [['is', 'path', [`/${'é'.repeat(1024)}`]]] },
      ['filters.0.2.0: a filter value must be at most 2048 bytes'],
    ],
    [
      'a value with NUL',
      { ...base, filters: [['is', 'path', ['/a\u0000']]] },
      ['filters.0.2.0: a filter value must not contain NUL (\\u0000) or unpaired surrogates'],
    ],
    [
      'too many values',
      { ...base, filters: [['is', 'country', Array.from({ length: 101 }, (_, i) => `c${i}`)]] },
      ['filters.0.2: a filter takes at most 100 values'],
    ],
    [
      'a filter of two parts',
      { ...base, filters: [['is', 'path']] },
      ['filters.0: a filter is [operator, dimension, [values…]]'],
    ],
    [
      'order by something not requested',
      { ...base, orderBy: [['pageviews', 'desc']] },
      ['orderBy.0: "pageviews" is not a requested metric or dimension (requested: visitors)'],
    ],
    ['order direction', { ...base, orderBy: [['visitors', 'up']] }, ['orderBy.0.1: must be "asc" or "desc"']],
    [
      'ordered twice',
      {
        ...base,
        orderBy: [
          ['visitors', 'desc'],
          ['visitors', 'asc'],
        ],
      },
      ['orderBy.1: "visitors" is ordered twice'],
    ],
    ['limit 0', { ...base, limit: 0 }, ['limit must be at least 1']],
    ['limit too big', { ...base, limit: 10_001 }, ['limit must be at most 10000']],
    ['limit fractional', { ...base, limit: 1.5 }, ['limit must be a whole number']],
    ['offset negative', { ...base, offset: -1 }, ['offset must not be negative']],
    [
      'unknown comparison',
      { ...base, compare: 'lastYear' },
      ['compare: unknown comparison "lastYear" (known: previousPeriod, yearOverYear)'],
    ],
    [
      'realtime compared and bucketed',
      { ...base, dateRange: 'realtime', compare: 'previousPeriod', dimensions: ['time:hour'] },
      [
        'compare: a realtime query has nothing to compare',
        'dimensions: "time:hour" needs a dateRange of days, not "realtime"',
      ],
    ],
    [
      'all compared',
      { ...base, dateRange: 'all', compare: 'yearOverYear' },
      ['compare: dateRange "all" has no period before it to compare with'],
    ],
    ['format', { ...base, format: 'xml' }, ['format must be "json" or "csv"']],
    ['an unknown key', { ...base, metric: ['visitors'] }, ['property metric should not exist']],
    ['a bad siteId', { ...base, siteId: 'my site' }, ['siteId must contain only letters, digits and _ . : -']],
  ])('%s', (_name, request, expected) => {
    expect(problems(request)).toEqual(expected);
  });

  test('several problems are all listed', () => {
    expect(problems({ siteId: '', metrics: ['hits'], dateRange: 'week', dimensions: ['url'] })).toEqual([
      'siteId should not be empty',
      expect.stringMatching(/^metrics\.0: unknown metric "hits"/),
      expect.stringMatching(/^dateRange: unknown range "week"/),
      expect.stringMatching(/^dimensions\.0: unknown dimension "url"/),
    ]);
  });
});

describe('the answer', () => {
  test('a compared breakdown row and its meta parse', () => {
    const answer = {
      results: [
        { dimensions: ['Google'], metrics: [1204, 31.5], comparison: { metrics: [1301, 30], change: [-7.5, 5] } },
        { dimensions: [null], metrics: [3, 0], comparison: { metrics: [0, 0], change: [null, null] } },
      ],
      meta: {
        metrics: ['visitors', 'bounceRate'],
        dimensions: ['source'],
        dateRange: ['2024-03-01', '2024-03-07'],
        timeZone: 'Europe/Berlin',
        totalRows: 2,
        approximate: ['visitors'],
        comparison: { dateRange: ['2024-02-23', '2024-02-29'] },
      },
    };
    expect(queryResponseSchema.parse(answer)).toEqual(answer);
  });

  test('an unknown metric in meta.approximate is refused', () => {
    expect(
      queryResponseSchema.safeParse({
        results: [],
        meta: {
          metrics: [],
          dimensions: [],
          dateRange: ['a', 'b'],
          timeZone: 'UTC',
          totalRows: 0,
          approximate: ['uniques'],
        },
      }).success,
    ).toBe(false);
  });
});
