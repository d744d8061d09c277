/**
 * Site-local days and time buckets (SPEC §9, §12). A query names days in the
 * site's time zone; this module turns them into instants and buckets, using
 * only `Intl` (the zone database Node ships with, so no tz library to keep up
 * to date). Days are `YYYY-MM-DD` strings; calendar arithmetic on them is done
 * in UTC, where every day has 24 hours, and only the edges of a day are looked
 * up in the zone, so DST days come out 23 or 25 hours long.
 *
 * Named ranges, for "now" in the site's zone (Plausible's Stats API v2, except
 * where said):
 * - `today`, `yesterday`: that one day.
 * - `7d`, `30d`: the last 7 / 30 days, today included (Plausible's `30d` spans
 *   31 days, its date minus 30; we count 30).
 * - `month`: the 1st of this month to today. `lastMonth`: the whole month before.
 * - `12mo`: the 1st of the month 11 months ago to today: this month and the 11
 *   before it, as Plausible counts them (the current month to date).
 * - `year`: January 1st to today. `all`: the site's first event day to today.
 * Ranges end today, never in the future: a zero-filled series never shows days
 * that have not happened as zeros.
 */
import type { Comparison, NamedDateRange } from '@tally/shared';
import { DAY_MS } from '@tally/shared';

/** Inclusive site-local days, `YYYY-MM-DD`. */
export interface DayRange {
  from: string;
  to: string;
}

export type BucketSize = 'hour' | 'day' | 'week' | 'month';

export interface TimeBucket {
  /** The row's label: the day, the week's Monday, the month's 1st, or the hour as local ISO time with its offset. */
  key: string;
  /** The range's days this bucket holds (a week or month is clipped to the range). */
  from: string;
  to: string;
  /** The bucket's instants, `[start, end)`. */
  start: Date;
  end: Date;
}

const HOUR_MS = 3_600_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether `name` is an IANA zone this runtime knows (`UTC`, `Europe/Berlin`, …). */
export function isTimeZone(name: string): boolean {
  try {
    formatterFor(name);
    return true;
  } catch {
    return false;
  }
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const CLOCK = /^(\d{2})\/(\d{2})\/(\d+), (\d{2}):(\d{2}):(\d{2})$/;

/** What a clock in `timeZone` shows at `instant`. (`format` and a regex: several times faster than `formatToParts`.) */
export function wallClock(instant: Date | number, timeZone: string): WallClock {
  const text = formatterFor(timeZone).format(instant);
  const match = CLOCK.exec(text);
  if (match === null) throw new Error(`unexpected date format from Intl: ${text}`);
  const [, month, day, year, hour, minute, second] = match.map(Number);
  return {
    year: year ?? 0,
    month: month ?? 0,
    day: day ?? 0,
    hour: hour ?? 0,
    minute: minute ?? 0,
    second: second ?? 0,
  };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

function dayOf(clock: WallClock): string {
  return `${pad(clock.year, 4)}-${pad(clock.month)}-${pad(clock.day)}`;
}

/** The site-local day of `instant`. */
export function localDay(instant: Date | number, timeZone: string): string {
  return dayOf(wallClock(instant, timeZone));
}

/** The zone's offset from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function offsetAt(instant: Date | number, timeZone: string): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const clock = wallClock(ms, timeZone);
  const asUtc = Date.UTC(clock.year, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

function formatOffset(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  return `${offsetMs < 0 ? '-' : '+'}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

const utcMidnight = (day: string) => Date.parse(`${day}T00:00:00Z`);
const dayFromUtc = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** `day` plus `count` calendar days. */
export function addDays(day: string, count: number): string {
  return dayFromUtc(utcMidnight(day) + count * DAY_MS);
}

/** Days in an inclusive range. */
export function dayCount(range: DayRange): number {
  return Math.round((utcMidnight(range.to) - utcMidnight(range.from)) / DAY_MS) + 1;
}

/** `day` shifted by whole months, the day of month clamped to the target month (Mar 31 - 1 month = Feb 28/29). */
export function addMonths(day: string, count: number): string {
  const [year = 0, month = 1, date = 1] = day.split('-').map(Number);
  const index = year * 12 + (month - 1) + count;
  const targetYear = Math.floor(index / 12);
  const targetMonth = index - targetYear * 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  return `${pad(targetYear, 4)}-${pad(targetMonth + 1)}-${pad(Math.min(date, lastDay))}`;
}

const firstOfMonth = (day: string) => `${day.slice(0, 8)}01`;
const firstOfYear = (day: string) => `${day.slice(0, 5)}01-01`;

/** The Monday on or before `day` (ISO weeks). */
export function mondayOf(day: string): string {
  const weekday = new Date(utcMidnight(day)).getUTCDay(); // 0 = Sunday
  return addDays(day, -((weekday + 6) % 7));
}

/**
 * The first instant of the site-local `day`. Usually local midnight; where a
 * DST change skips midnight (e.g. America/Santiago) the instant the day begins.
 */
export function startOfLocalDay(day: string, timeZone: string): Date {
  const midnight = utcMidnight(day);
  let guess = midnight - offsetAt(midnight, timeZone);
  guess = midnight - offsetAt(guess, timeZone);
  const startsDay = (t: number) => localDay(t, timeZone) >= day && localDay(t - 1, timeZone) < day;
  if (startsDay(guess)) return new Date(guess);
  // Midnight does not exist that day: search the boundary. Offsets lie within -12 h … +14 h, and a
  // zone may skip a whole day (Pacific/Apia, 2011-12-30), so ±38 h brackets it.
  let before = midnight - 38 * HOUR_MS;
  let after = midnight + 38 * HOUR_MS;
  while (after - before > 1) {
    const middle = Math.floor((before + after) / 2);
    if (localDay(middle, timeZone) >= day) after = middle;
    else before = middle;
  }
  return new Date(after);
}

/** Today, in the site's zone. */
export function today(timeZone: string, now: Date): string {
  return localDay(now, timeZone);
}

export interface RangeContext {
  timeZone: string;
  now: Date;
  /** The site's first event day, for `all`; `null` (no events yet) makes `all` today. */
  firstEventDay: string | null;
}

/** The inclusive site-local days a named or custom range covers (not `realtime`: see {@link realtimeRange}). */
export function resolveDateRange(
  range: Exclude<NamedDateRange, 'realtime'> | readonly [string, string],
  context: RangeContext,
): DayRange {
  if (typeof range !== 'string') return { from: range[0], to: range[1] };
  const now = today(context.timeZone, context.now);
  switch (range) {
    case 'today':
      return { from: now, to: now };
    case 'yesterday': {
      const day = addDays(now, -1);
      return { from: day, to: day };
    }
    case '7d':
      return { from: addDays(now, -6), to: now };
    case '30d':
      return { from: addDays(now, -29), to: now };
    case 'month':
      return { from: firstOfMonth(now), to: now };
    case 'lastMonth': {
      const first = addMonths(firstOfMonth(now), -1);
      return { from: first, to: addDays(firstOfMonth(now), -1) };
    }
    case '12mo':
      return { from: addMonths(firstOfMonth(now), -11), to: now };
    case 'year':
      return { from: firstOfYear(now), to: now };
    case 'all': {
      const first = context.firstEventDay;
      return { from: first !== null && first < now ? first : now, to: now };
    }
  }
}

/** How long `realtime` looks back. */
export const REALTIME_WINDOW_MS = 5 * 60_000;

/** `realtime`: the last five minutes before `now`, `[start, end)`. */
export function realtimeRange(now: Date): { start: Date; end: Date } {
  return { start: new Date(now.getTime() - REALTIME_WINDOW_MS), end: new Date(now.getTime()) };
}

/** The same calendar day one year earlier; February 29th becomes February 28th. */
export function sameDayLastYear(day: string): string {
  return addMonths(day, -12);
}

/**
 * The period a range is compared with: `previousPeriod` is the same number of
 * days right before it; `yearOverYear` the same dates one year earlier (Feb 29
 * taken as Feb 28, so a range ending on a leap day compares with one a day shorter).
 */
export function comparisonRange(range: DayRange, mode: Comparison): DayRange {
  if (mode === 'yearOverYear') return { from: sameDayLastYear(range.from), to: sameDayLastYear(range.to) };
  const days = dayCount(range);
  return { from: addDays(range.from, -days), to: addDays(range.from, -1) };
}

/** Every day of a range, ascending. */
export function daysOf(range: DayRange): string[] {
  const days: string[] = [];
  for (let day = range.from; day <= range.to; day = addDays(day, 1)) days.push(day);
  return days;
}

/**
 * The time buckets of a range in the site's zone, ascending, each instant of
 * the range in exactly one: every day, hour, ISO week (Monday first) or month,
 * zeros included. A DST day has 23 or 25 hour buckets; the repeated hour of a
 * 25-hour day appears twice, its keys told apart by their offsets. Weeks and
 * months are labelled by their first day even where the range starts inside
 * them; their `from`/`to` hold only the range's days.
 */
export function timeBuckets(range: DayRange, size: BucketSize, timeZone: string): TimeBucket[] {
  if (size === 'hour') return hourBuckets(range, timeZone);
  const starts = dayStarts(range, timeZone);
  const startOf = (day: string) => starts[dayCount({ from: range.from, to: day }) - 1] as number;
  const buckets: TimeBucket[] = [];
  for (let day = range.from; day <= range.to; ) {
    const key = size === 'day' ? day : size === 'week' ? mondayOf(day) : firstOfMonth(day);
    const next = size === 'day' ? addDays(day, 1) : size === 'week' ? addDays(key, 7) : addMonths(key, 1);
    const to = next <= range.to ? addDays(next, -1) : range.to;
    const after = addDays(to, 1);
    buckets.push({ key, from: day, to, start: new Date(startOf(day)), end: new Date(startOf(after)) });
    day = after;
  }
  return buckets;
}

/**
 * The first instant of every day of the range and of the day after it. A day
 * usually starts 24 hours after the one before; that is checked with one
 * offset lookup, and only days around a DST change are searched.
 */
function dayStarts(range: DayRange, timeZone: string): number[] {
  const starts: number[] = [];
  let start = startOfLocalDay(range.from, timeZone).getTime();
  let offset = offsetAt(start, timeZone);
  let atMidnight = isMidnight(start, timeZone, range.from);
  starts.push(start);
  const last = addDays(range.to, 1);
  for (let day = addDays(range.from, 1); day <= last; day = addDays(day, 1)) {
    const candidate = start + DAY_MS;
    const candidateOffset = offsetAt(candidate, timeZone);
    if (atMidnight && candidateOffset === offset) {
      start = candidate;
    } else {
      start = startOfLocalDay(day, timeZone).getTime();
      offset = offsetAt(start, timeZone);
      atMidnight = isMidnight(start, timeZone, day);
    }
    starts.push(start);
  }
  return starts;
}

/**
 * Whether `instant` is the midnight that starts `day` there. A day a zone skipped (Samoa's
 * 2011-12-30) starts when the next one does, so its start is no midnight *of it*, and the day
 * after must be looked up rather than taken as 24 hours later.
 */
function isMidnight(instant: number, timeZone: string, day: string): boolean {
  const clock = wallClock(instant, timeZone);
  return clock.hour === 0 && clock.minute === 0 && clock.second === 0 && dayOf(clock) === day;
}

function hourBuckets(range: DayRange, timeZone: string): TimeBucket[] {
  const buckets: TimeBucket[] = [];
  const last = startOfLocalDay(addDays(range.to, 1), timeZone).getTime();
  let start = startOfLocalDay(range.from, timeZone).getTime();
  while (start < last) {
    const clock = wallClock(start, timeZone);
    // The next whole local hour; after a half-hour DST shift (Australia/Lord_Howe) a bucket is 30 minutes.
    const end = Math.min(last, start + HOUR_MS - (clock.minute * 60 + clock.second) * 1000 - (start % 1000));
    const day = dayOf(clock);
    const key = `${day}T${pad(clock.hour)}:${pad(clock.minute)}:00${formatOffset(offsetAt(start, timeZone))}`;
    buckets.push({ key, from: day, to: day, start: new Date(start), end: new Date(end) });
    start = end;
  }
  return buckets;
}
