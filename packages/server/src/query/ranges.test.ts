import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  addDays,
  addMonths,
  comparisonRange,
  type DayRange,
  dayCount,
  daysOf,
  isTimeZone,
  localDay,
  mondayOf,
  offsetAt,
  realtimeRange,
  resolveDateRange,
  startOfLocalDay,
  type TimeBucket,
  timeBuckets,
} from './ranges.js';

const HOUR = 3_600_000;
const iso = (date: Date) => date.toISOString();
const hoursOf = (bucket: TimeBucket) => (bucket.end.getTime() - bucket.start.getTime()) / HOUR;
const oneDay = (day: string): DayRange => ({ from: day, to: day });

describe('calendar arithmetic', () => {
  test('addDays crosses months, years and leap days', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2023-02-28', 1)).toBe('2023-03-01');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
  });

  test('addMonths clamps the day to the target month', () => {
    expect(addMonths('2024-03-31', -1)).toBe('2024-02-29');
    expect(addMonths('2023-03-31', -1)).toBe('2023-02-28');
    expect(addMonths('2024-01-15', -13)).toBe('2022-12-15');
    expect(addMonths('2024-11-30', 3)).toBe('2025-02-28');
  });

  test('mondayOf: ISO weeks start on Monday', () => {
    expect(mondayOf('2024-03-04')).toBe('2024-03-04'); // a Monday
    expect(mondayOf('2024-03-10')).toBe('2024-03-04'); // its Sunday
    expect(mondayOf('2024-01-01')).toBe('2024-01-01');
    expect(mondayOf('2023-01-01')).toBe('2022-12-26');
  });

  test('dayCount and daysOf are inclusive', () => {
    expect(dayCount({ from: '2024-02-01', to: '2024-02-29' })).toBe(29);
    expect(daysOf({ from: '2024-02-28', to: '2024-03-01' })).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
  });

  test('isTimeZone knows IANA names and refuses others', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('site-local days', () => {
  test('the same instant is a different day in New York and Berlin', () => {
    const instant = new Date('2024-03-01T02:30:00Z');
    expect(localDay(instant, 'UTC')).toBe('2024-03-01');
    expect(localDay(instant, 'America/New_York')).toBe('2024-02-29');
    expect(localDay(instant, 'Europe/Berlin')).toBe('2024-03-01');
    expect(localDay(new Date('2024-02-29T23:30:00Z'), 'Europe/Berlin')).toBe('2024-03-01');
  });

  test('offsets follow DST', () => {
    expect(offsetAt(new Date('2024-01-15T12:00:00Z'), 'America/New_York')).toBe(-5 * HOUR);
    expect(offsetAt(new Date('2024-07-15T12:00:00Z'), 'America/New_York')).toBe(-4 * HOUR);
    expect(offsetAt(new Date('2024-07-15T12:00:00Z'), 'Europe/Berlin')).toBe(2 * HOUR);
    expect(offsetAt(new Date('2024-07-15T12:00:00Z'), 'Asia/Kathmandu')).toBe(5.75 * HOUR);
  });

  test('a day starts at local midnight', () => {
    expect(iso(startOfLocalDay('2024-03-10', 'America/New_York'))).toBe('2024-03-10T05:00:00.000Z');
    expect(iso(startOfLocalDay('2024-03-11', 'America/New_York'))).toBe('2024-03-11T04:00:00.000Z');
    expect(iso(startOfLocalDay('2024-10-27', 'Europe/Berlin'))).toBe('2024-10-26T22:00:00.000Z');
    expect(iso(startOfLocalDay('2024-10-28', 'Europe/Berlin'))).toBe('2024-10-27T23:00:00.000Z');
  });

  test('where DST skips midnight (Santiago), the day starts at 01:00', () => {
    expect(iso(startOfLocalDay('2024-09-08', 'America/Santiago'))).toBe('2024-09-08T04:00:00.000Z');
    expect(hoursOf(timeBuckets(oneDay('2024-09-07'), 'day', 'America/Santiago')[0] as TimeBucket)).toBe(24);
    expect(timeBuckets(oneDay('2024-09-08'), 'hour', 'America/Santiago')[0]?.key).toBe('2024-09-08T01:00:00-03:00');
  });

  test('a day a zone skipped (Samoa, 2011-12-30) has no instants', () => {
    expect(iso(startOfLocalDay('2011-12-30', 'Pacific/Apia'))).toBe(iso(startOfLocalDay('2011-12-31', 'Pacific/Apia')));
    expect(timeBuckets(oneDay('2011-12-30'), 'hour', 'Pacific/Apia')).toEqual([]);
  });
});

describe('named ranges', () => {
  // 2024-03-01 03:00 UTC is still February 29th in New York.
  const context = { timeZone: 'America/New_York', now: new Date('2024-03-01T03:00:00Z'), firstEventDay: '2023-06-15' };

  test.each<[Parameters<typeof resolveDateRange>[0], DayRange]>([
    ['today', { from: '2024-02-29', to: '2024-02-29' }],
    ['yesterday', { from: '2024-02-28', to: '2024-02-28' }],
    ['7d', { from: '2024-02-23', to: '2024-02-29' }],
    ['30d', { from: '2024-01-31', to: '2024-02-29' }],
    ['month', { from: '2024-02-01', to: '2024-02-29' }],
    ['lastMonth', { from: '2024-01-01', to: '2024-01-31' }],
    ['12mo', { from: '2023-03-01', to: '2024-02-29' }],
    ['year', { from: '2024-01-01', to: '2024-02-29' }],
    ['all', { from: '2023-06-15', to: '2024-02-29' }],
    [['2024-01-05', '2024-01-09'], { from: '2024-01-05', to: '2024-01-09' }],
  ])('%j in New York', (range, expected) => {
    expect(resolveDateRange(range, context)).toEqual(expected);
  });

  test('the same instant is already March in Berlin', () => {
    const berlin = { ...context, timeZone: 'Europe/Berlin' };
    expect(resolveDateRange('today', berlin)).toEqual(oneDay('2024-03-01'));
    expect(resolveDateRange('month', berlin)).toEqual(oneDay('2024-03-01'));
    expect(resolveDateRange('lastMonth', berlin)).toEqual({ from: '2024-02-01', to: '2024-02-29' });
  });

  test('30d and 7d count their days, today included', () => {
    expect(dayCount(resolveDateRange('30d', context))).toBe(30);
    expect(dayCount(resolveDateRange('7d', context))).toBe(7);
  });

  test('lastMonth in January is last December', () => {
    expect(resolveDateRange('lastMonth', { ...context, now: new Date('2024-01-10T12:00:00Z') })).toEqual({
      from: '2023-12-01',
      to: '2023-12-31',
    });
  });

  test('all without events, or with a first day in the future, is today', () => {
    expect(resolveDateRange('all', { ...context, firstEventDay: null })).toEqual(oneDay('2024-02-29'));
    expect(resolveDateRange('all', { ...context, firstEventDay: '2024-03-01' })).toEqual(oneDay('2024-02-29'));
  });

  test('realtime is the five minutes before now', () => {
    const range = realtimeRange(new Date('2024-03-01T12:00:00Z'));
    expect(iso(range.start)).toBe('2024-03-01T11:55:00.000Z');
    expect(iso(range.end)).toBe('2024-03-01T12:00:00.000Z');
  });
});

describe('comparison ranges', () => {
  test('previousPeriod is the same number of days right before', () => {
    expect(comparisonRange({ from: '2024-03-01', to: '2024-03-07' }, 'previousPeriod')).toEqual({
      from: '2024-02-23',
      to: '2024-02-29',
    });
    expect(comparisonRange(oneDay('2024-03-01'), 'previousPeriod')).toEqual(oneDay('2024-02-29'));
    // Month to date (10 days) against the 10 days before it.
    expect(comparisonRange({ from: '2024-03-01', to: '2024-03-10' }, 'previousPeriod')).toEqual({
      from: '2024-02-20',
      to: '2024-02-29',
    });
  });

  test('yearOverYear is the same dates a year earlier; February 29th becomes the 28th', () => {
    expect(comparisonRange({ from: '2024-03-01', to: '2024-03-31' }, 'yearOverYear')).toEqual({
      from: '2023-03-01',
      to: '2023-03-31',
    });
    expect(comparisonRange({ from: '2024-02-01', to: '2024-02-29' }, 'yearOverYear')).toEqual({
      from: '2023-02-01',
      to: '2023-02-28',
    });
    expect(comparisonRange(oneDay('2024-02-29'), 'yearOverYear')).toEqual(oneDay('2023-02-28'));
    expect(comparisonRange(oneDay('2025-02-28'), 'yearOverYear')).toEqual(oneDay('2024-02-28'));
  });

  test('property: previousPeriod has as many days and ends the day before', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 400 }), (start, length) => {
        const from = addDays('1975-01-01', start);
        const range = { from, to: addDays(from, length) };
        const previous = comparisonRange(range, 'previousPeriod');
        expect(dayCount(previous)).toBe(dayCount(range));
        expect(addDays(previous.to, 1)).toBe(range.from);
      }),
    );
  });
});

describe('time buckets across DST', () => {
  test.each([
    ['America/New_York', '2024-03-10', 23],
    ['America/New_York', '2024-11-03', 25],
    ['America/New_York', '2024-07-04', 24],
    ['Europe/Berlin', '2024-03-31', 23],
    ['Europe/Berlin', '2024-10-27', 25],
    ['Europe/Berlin', '2024-01-15', 24],
    ['UTC', '2024-03-31', 24],
  ])('%s %s has %i hour buckets of one hour each, and one day bucket that long', (zone, day, hours) => {
    const buckets = timeBuckets(oneDay(day), 'hour', zone);
    expect(buckets).toHaveLength(hours);
    expect(buckets.every((bucket) => hoursOf(bucket) === 1)).toBe(true);
    const [whole] = timeBuckets(oneDay(day), 'day', zone);
    expect(whole && hoursOf(whole)).toBe(hours);
  });

  test('New York, spring forward: 01:00 is followed by 03:00', () => {
    const keys = timeBuckets(oneDay('2024-03-10'), 'hour', 'America/New_York').map((bucket) => bucket.key);
    expect(keys.slice(0, 4)).toEqual([
      '2024-03-10T00:00:00-05:00',
      '2024-03-10T01:00:00-05:00',
      '2024-03-10T03:00:00-04:00',
      '2024-03-10T04:00:00-04:00',
    ]);
    expect(keys.at(-1)).toBe('2024-03-10T23:00:00-04:00');
  });

  test('New York, fall back: 01:00 comes twice, told apart by its offset', () => {
    const buckets = timeBuckets(oneDay('2024-11-03'), 'hour', 'America/New_York');
    expect(buckets.slice(1, 4).map((bucket) => [bucket.key, iso(bucket.start)])).toEqual([
      ['2024-11-03T01:00:00-04:00', '2024-11-03T05:00:00.000Z'],
      ['2024-11-03T01:00:00-05:00', '2024-11-03T06:00:00.000Z'],
      ['2024-11-03T02:00:00-05:00', '2024-11-03T07:00:00.000Z'],
    ]);
    expect(new Set(buckets.map((bucket) => bucket.key)).size).toBe(25);
  });

  test('Berlin, fall back: 02:00 comes twice', () => {
    const keys = timeBuckets(oneDay('2024-10-27'), 'hour', 'Europe/Berlin').map((bucket) => bucket.key);
    expect(keys.slice(2, 5)).toEqual([
      '2024-10-27T02:00:00+02:00',
      '2024-10-27T02:00:00+01:00',
      '2024-10-27T03:00:00+01:00',
    ]);
  });

  test('Berlin, spring forward: no 02:00', () => {
    const keys = timeBuckets(oneDay('2024-03-31'), 'hour', 'Europe/Berlin').map((bucket) => bucket.key);
    expect(keys.slice(1, 3)).toEqual(['2024-03-31T01:00:00+01:00', '2024-03-31T03:00:00+02:00']);
  });

  test('a week across the spring change is 167 hours; across the autumn change 169', () => {
    const [spring] = timeBuckets({ from: '2024-03-25', to: '2024-03-31' }, 'week', 'Europe/Berlin');
    const [autumn] = timeBuckets({ from: '2024-10-21', to: '2024-10-27' }, 'week', 'Europe/Berlin');
    expect(spring && hoursOf(spring)).toBe(167);
    expect(autumn && hoursOf(autumn)).toBe(169);
  });

  test('weeks start on Monday and are clipped to the range, keyed by their Monday', () => {
    const buckets = timeBuckets({ from: '2024-02-14', to: '2024-03-05' }, 'week', 'Europe/Berlin');
    expect(buckets.map((bucket) => [bucket.key, bucket.from, bucket.to])).toEqual([
      ['2024-02-12', '2024-02-14', '2024-02-18'],
      ['2024-02-19', '2024-02-19', '2024-02-25'],
      ['2024-02-26', '2024-02-26', '2024-03-03'],
      ['2024-03-04', '2024-03-04', '2024-03-05'],
    ]);
  });

  test('months are keyed by their first day, clipped to the range', () => {
    const buckets = timeBuckets({ from: '2023-12-20', to: '2024-03-05' }, 'month', 'America/New_York');
    expect(buckets.map((bucket) => [bucket.key, bucket.from, bucket.to])).toEqual([
      ['2023-12-01', '2023-12-20', '2023-12-31'],
      ['2024-01-01', '2024-01-01', '2024-01-31'],
      ['2024-02-01', '2024-02-01', '2024-02-29'],
      ['2024-03-01', '2024-03-01', '2024-03-05'],
    ]);
    expect(iso(buckets[0]?.start as Date)).toBe('2023-12-20T05:00:00.000Z');
  });

  test('zones with quarter-hour offsets bucket on their own hours', () => {
    const [first] = timeBuckets(oneDay('2024-07-01'), 'hour', 'Asia/Kathmandu');
    expect(first?.key).toBe('2024-07-01T00:00:00+05:45');
    expect(iso(first?.start as Date)).toBe('2024-06-30T18:15:00.000Z');
  });

  test('a year of days in Berlin is 366 buckets in 2024 with one 23- and one 25-hour day', () => {
    const buckets = timeBuckets({ from: '2024-01-01', to: '2024-12-31' }, 'day', 'Europe/Berlin');
    expect(buckets).toHaveLength(366);
    const lengths = buckets.map(hoursOf);
    expect(lengths.filter((hours) => hours === 23)).toHaveLength(1);
    expect(lengths.filter((hours) => hours === 25)).toHaveLength(1);
    expect(lengths.filter((hours) => hours === 24)).toHaveLength(364);
  });
});

const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'America/Santiago',
  'America/Sao_Paulo',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'Pacific/Apia',
  'Africa/Casablanca',
];

describe('a day a zone skipped', () => {
  test('weeks across Samoa’s missing 2011-12-30 start each day when it does (found by the property below)', () => {
    const range = { from: '2011-11-07', to: '2011-12-30' };
    const buckets = timeBuckets(range, 'week', 'Pacific/Apia');
    const last = buckets.at(-1);
    expect(last?.end.getTime()).toBe(startOfLocalDay('2011-12-31', 'Pacific/Apia').getTime());
    for (let i = 1; i < buckets.length; i++) {
      expect(buckets[i]?.start.getTime()).toBe(buckets[i - 1]?.end.getTime());
    }
  });
});

describe('property: buckets cover the range exactly once, ascending', () => {
  test('for every size, zone and range', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom('hour', 'day', 'week', 'month') as fc.Arbitrary<'hour' | 'day' | 'week' | 'month'>,
        fc.integer({ min: 0, max: 24_000 }), // days after 1970-01-01 (to 2035)
        fc.integer({ min: 0, max: 120 }),
        (zone, size, start, length) => {
          const from = addDays('1970-01-01', start);
          const range = { from, to: addDays(from, size === 'hour' ? Math.min(length, 31) : length) };
          const buckets = timeBuckets(range, size, zone);
          const begin = startOfLocalDay(range.from, zone).getTime();
          const finish = startOfLocalDay(addDays(range.to, 1), zone).getTime();
          // Contiguous instants from the first moment of the range to the last, none empty (skipped days aside).
          let cursor = begin;
          for (const bucket of buckets) {
            expect(bucket.start.getTime()).toBe(cursor);
            expect(bucket.end.getTime()).toBeGreaterThanOrEqual(bucket.start.getTime());
            if (size === 'hour') expect(bucket.end.getTime()).toBeGreaterThan(bucket.start.getTime());
            cursor = bucket.end.getTime();
          }
          expect(cursor).toBe(buckets.length === 0 ? begin : finish);
          expect(finish).toBeGreaterThanOrEqual(begin);
          // Keys strictly ascending by start; unique.
          expect(new Set(buckets.map((bucket) => bucket.key)).size).toBe(buckets.length);
          if (size !== 'hour') {
            // Every day of the range in exactly one bucket, in order.
            expect(buckets.flatMap((bucket) => daysOf(bucket))).toEqual(daysOf(range));
            const keys = buckets.map((bucket) => bucket.key);
            expect([...keys].sort()).toEqual(keys);
          } else {
            // Each hour bucket lies within its day and within one local hour.
            for (const bucket of buckets) {
              expect(localDay(bucket.start, zone)).toBe(bucket.from);
              expect(localDay(bucket.end.getTime() - 1, zone)).toBe(bucket.from);
              expect(hoursOf(bucket)).toBeLessThanOrEqual(1);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
