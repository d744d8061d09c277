import { type QueryRequest, queryRequestSchema } from '@tally/shared';
import { describe, expect, test } from 'vitest';
import { ValidationError } from '../errors.js';
import { answerKey, completeOrder, metaOf, percentChange, planQuery } from './plan.js';

// Friday 2024-03-08, 15:00 in New York.
const context = { timeZone: 'America/New_York', now: new Date('2024-03-08T20:00:00Z'), firstEventDay: '2023-11-02' };
const plan = (request: Omit<QueryRequest, 'siteId'>, overrides: Partial<typeof context> = {}) =>
  planQuery(queryRequestSchema.parse({ siteId: 'my_site', ...request }), { ...context, ...overrides });

describe('dimensions and filters are classified', () => {
  test('time, visit and event dimensions', () => {
    const { dimensions } = plan({ metrics: ['visitors'], dateRange: '7d', dimensions: ['time:week', 'props:plan'] });
    expect(dimensions).toEqual([
      { name: 'time:week', level: 'time', bucket: 'week' },
      { name: 'props:plan', level: 'event', propKey: 'plan' },
    ]);
    expect(plan({ metrics: ['visits'], dateRange: '7d', dimensions: ['entryPage', 'path'] }).dimensions).toEqual([
      { name: 'entryPage', level: 'visit' },
      { name: 'path', level: 'event' },
    ]);
  });

  test('filters keep operator and values, with their dimension classified', () => {
    const { filters } = plan({
      metrics: ['pageviews'],
      dateRange: '30d',
      filters: [
        ['is', 'eventType', ['signup']],
        ['contains', 'source', ['Hacker']],
        ['isNot', 'props:plan:tier', ['free']],
      ],
    });
    expect(filters).toEqual([
      { operator: 'is', dimension: { name: 'eventType', level: 'event' }, values: ['signup'] },
      { operator: 'contains', dimension: { name: 'source', level: 'visit' }, values: ['Hacker'] },
      {
        operator: 'isNot',
        dimension: { name: 'props:plan:tier', level: 'event', propKey: 'plan:tier' },
        values: ['free'],
      },
    ]);
  });
});

describe('ranges and comparison', () => {
  test('30d compared with the previous period: 30 site-local days each', () => {
    const { range, comparison } = plan({ metrics: ['visitors'], dateRange: '30d', compare: 'previousPeriod' });
    expect(range).toEqual({ kind: 'days', from: '2024-02-08', to: '2024-03-08', days: 30 });
    expect(comparison).toEqual({
      mode: 'previousPeriod',
      range: { kind: 'days', from: '2024-01-09', to: '2024-02-07', days: 30 },
      buckets: null,
    });
  });

  test('month to date against the same dates last year; a daily series gets buckets for both', () => {
    const result = plan({
      metrics: ['visitors'],
      dateRange: 'month',
      dimensions: ['time:day'],
      compare: 'yearOverYear',
    });
    expect(result.range).toMatchObject({ from: '2024-03-01', to: '2024-03-08', days: 8 });
    expect(result.comparison?.range).toMatchObject({ from: '2023-03-01', to: '2023-03-08' });
    expect(result.buckets?.map((bucket) => bucket.key)).toHaveLength(8);
    expect(result.comparison?.buckets?.[0]?.key).toBe('2023-03-01');
  });

  test('the site zone decides "today": 01:00 UTC is still yesterday in New York', () => {
    const early = { now: new Date('2024-03-09T01:00:00Z') };
    expect(plan({ metrics: ['visitors'], dateRange: 'today' }, early).range).toMatchObject({ from: '2024-03-08' });
    expect(
      plan({ metrics: ['visitors'], dateRange: 'today' }, { ...early, timeZone: 'Europe/Berlin' }).range,
    ).toMatchObject({ from: '2024-03-09' });
  });

  test('all starts at the first event day', () => {
    expect(plan({ metrics: ['events'], dateRange: 'all' }).range).toMatchObject({
      from: '2023-11-02',
      to: '2024-03-08',
    });
  });

  test('realtime is the last five minutes, as instants', () => {
    const { range } = plan({ metrics: ['visitors'], dateRange: 'realtime' });
    expect(range).toEqual({
      kind: 'realtime',
      start: new Date('2024-03-08T19:55:00Z'),
      end: new Date('2024-03-08T20:00:00Z'),
    });
  });

  test('time:hour over more than 31 days is a 400 naming the range', () => {
    expect(() => plan({ metrics: ['visitors'], dateRange: '12mo', dimensions: ['time:hour'] })).toThrow(
      new ValidationError([
        'dimensions: "time:hour" spans at most 31 days; dateRange "12mo" is 343 days (use "time:day")',
      ]),
    );
    expect(() =>
      plan({ metrics: ['visitors'], dateRange: ['2024-01-01', '2024-02-01'], dimensions: ['time:hour'] }),
    ).toThrow('dateRange 2024-01-01 to 2024-02-01 is 32 days');
    // March 2024 in New York: 31 days, one of them 23 hours long.
    const march = plan({ metrics: ['visitors'], dateRange: ['2024-03-01', '2024-03-31'], dimensions: ['time:hour'] });
    expect(march.buckets).toHaveLength(31 * 24 - 1);
  });
});

describe('which visitors are estimated', () => {
  test.each<[string, Omit<QueryRequest, 'siteId'>, string[]]>([
    ['one day, no breakdown', { metrics: ['visitors', 'pageviews'], dateRange: 'today' }, []],
    ['a daily series', { metrics: ['visitors'], dateRange: '30d', dimensions: ['time:day'] }, []],
    ['an hourly series', { metrics: ['visitors'], dateRange: 'today', dimensions: ['time:hour'] }, []],
    ['realtime', { metrics: ['visitors'], dateRange: 'realtime', dimensions: ['path'] }, []],
    ['a week', { metrics: ['visitors'], dateRange: '7d' }, ['visitors']],
    ['a weekly series', { metrics: ['visitors'], dateRange: '30d', dimensions: ['time:week'] }, ['visitors']],
    ['a breakdown of one day', { metrics: ['visitors'], dateRange: 'today', dimensions: ['country'] }, ['visitors']],
    [
      'one day, filtered',
      { metrics: ['visitors'], dateRange: 'today', filters: [['is', 'country', ['DE']]] },
      ['visitors'],
    ],
    ['no visitors asked for', { metrics: ['visits', 'bounceRate'], dateRange: '12mo', dimensions: ['source'] }, []],
  ])('%s', (_name, request, approximate) => {
    expect(plan(request).approximate).toEqual(approximate);
  });
});

describe('order', () => {
  test('a breakdown: first metric descending, then the dimensions ascending', () => {
    expect(plan({ metrics: ['pageviews', 'visitors'], dateRange: '7d', dimensions: ['path'] }).orderBy).toEqual([
      ['pageviews', 'desc'],
      ['path', 'asc'],
    ]);
  });

  test('a series runs forward in time; a series by source is top sources per bucket', () => {
    expect(plan({ metrics: ['visitors'], dateRange: '7d', dimensions: ['time:day'] }).orderBy).toEqual([
      ['time:day', 'asc'],
    ]);
    expect(completeOrder(undefined, ['visitors'], ['source', 'time:month'])).toEqual([
      ['time:month', 'asc'],
      ['visitors', 'desc'],
      ['source', 'asc'],
    ]);
  });

  test('an explicit order is kept and completed by the dimensions', () => {
    expect(
      plan({
        metrics: ['visitors', 'bounceRate'],
        dateRange: '7d',
        dimensions: ['country', 'device'],
        orderBy: [
          ['bounceRate', 'asc'],
          ['device', 'desc'],
        ],
      }).orderBy,
    ).toEqual([
      ['bounceRate', 'asc'],
      ['device', 'desc'],
      ['country', 'asc'],
    ]);
  });

  test('no dimensions: no order needed', () => {
    expect(plan({ metrics: ['visitors'], dateRange: '7d' }).orderBy).toEqual([]);
  });
});

describe('answers', () => {
  test('percentChange: one decimal; from zero is null; zero to zero is 0', () => {
    expect(percentChange(1204, 1301)).toBe(-7.5);
    expect(percentChange(150, 100)).toBe(50);
    expect(percentChange(1, 3)).toBe(-66.7);
    expect(percentChange(5, 0)).toBeNull();
    expect(percentChange(0, 0)).toBe(0);
  });

  test('meta names the range, zone, comparison and estimates', () => {
    const compared = plan({
      metrics: ['visitors', 'visits'],
      dateRange: '7d',
      dimensions: ['source'],
      compare: 'previousPeriod',
    });
    expect(metaOf(compared, 42)).toEqual({
      metrics: ['visitors', 'visits'],
      dimensions: ['source'],
      dateRange: ['2024-03-02', '2024-03-08'],
      timeZone: 'America/New_York',
      totalRows: 42,
      approximate: ['visitors'],
      comparison: { dateRange: ['2024-02-24', '2024-03-01'] },
    });
    const now = plan({ metrics: ['visitors'], dateRange: 'realtime' });
    expect(metaOf(now, 1).dateRange).toEqual(['2024-03-08T19:55:00.000Z', '2024-03-08T20:00:00.000Z']);
    expect(metaOf(now, 1)).not.toHaveProperty('comparison');
  });
});

describe('answerKey: what a cached answer depends on', () => {
  type Request = Omit<QueryRequest, 'siteId'>;
  const key = (request: Request, overrides: Partial<typeof context> = {}) =>
    answerKey(queryRequestSchema.parse({ siteId: 'my_site', ...request }), { ...context, ...overrides });
  const today: Request = { metrics: ['visitors'], dateRange: 'today', dimensions: ['time:hour'] };

  test("rolls over at the site's midnight, not UTC's", () => {
    // 23:30 and 00:30 UTC are both 18:30–19:30 of the same day in New York; its midnight is 05:00 UTC.
    const evening = key(today, { now: new Date('2024-03-08T23:30:00Z') });
    expect(key(today, { now: new Date('2024-03-09T00:30:00Z') })).toBe(evening);
    expect(key(today, { now: new Date('2024-03-09T04:59:59Z') })).toBe(evening);
    expect(key(today, { now: new Date('2024-03-09T05:00:00Z') })).not.toBe(evening);
    // The same instant is another day (and other hour buckets) in another zone.
    expect(key(today, { now: new Date('2024-03-08T23:30:00Z'), timeZone: 'Europe/Berlin' })).not.toBe(evening);
  });

  test('is the resolved request: the same days and order however they were asked, and not the format', () => {
    const base: Pick<Request, 'metrics' | 'dimensions'> = {
      metrics: ['visitors', 'pageviews'],
      dimensions: ['source'],
    };
    const named = key({ ...base, dateRange: '7d' });
    expect(key({ ...base, dateRange: ['2024-03-02', '2024-03-08'] })).toBe(named);
    expect(key({ ...base, dateRange: '7d', orderBy: [['visitors', 'desc']], offset: 0 })).toBe(named);
    expect(key({ ...base, dateRange: '7d', format: 'csv' })).toBe(named);
    const others: Request[] = [
      { ...base, dateRange: '30d' },
      { ...base, metrics: ['pageviews', 'visitors'], dateRange: '7d' },
      { ...base, dimensions: ['country'], dateRange: '7d' },
      { ...base, dateRange: '7d', filters: [['is', 'country', ['DE']]] },
      { ...base, dateRange: '7d', filters: [['isNot', 'country', ['DE']]] },
      { ...base, dateRange: '7d', orderBy: [['pageviews', 'desc']] },
      { ...base, dateRange: '7d', limit: 10 },
      { ...base, dateRange: '7d', offset: 10 },
      { ...base, dateRange: '7d', compare: 'previousPeriod' },
      { ...base, dateRange: '7d', compare: 'yearOverYear' },
    ];
    const keys = new Set([named, ...others.map((request) => key(request))]);
    expect(keys.size).toBe(others.length + 1);
    expect(key({ ...base, dateRange: '7d' }, { timeZone: 'UTC' })).not.toBe(named);
  });

  test('follows the first day of events for "all", and is none for realtime', () => {
    const all: Request = { metrics: ['visitors'], dateRange: 'all' };
    expect(key(all, { firstEventDay: '2024-01-01' })).not.toBe(key(all));
    expect(key({ metrics: ['visitors'], dateRange: 'realtime' })).toBeUndefined();
  });
});
