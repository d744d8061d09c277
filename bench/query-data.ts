/**
 * The query bench's site (SPEC §15): `events` events over 365 days — a tenth as
 * many visitors, 200 paths, 50 sources, 40 countries, visits of realistic
 * length — generated day by day in this process and written with `COPY` (psql)
 * straight into raw_events, visits, site_daily_rollups (visitor sketches
 * included, as sealed days have them), the sealed weeks and months, the pair rollups of
 * sealed days and months (`query/pairs.ts`) and part one's daily tables, never
 * through the HTTP API. Deterministic (a seeded generator). A visit's events
 * all count on the day it started, also the few past midnight (the worker
 * counts those on their own day; the raw path's answers differ by them).
 *
 *   node --import tsx bench/query-data.ts '{"url":"postgres://…/db","siteId":"bench_q","events":1000000,"lastDay":"2025-12-31"}'
 *
 * Prints one JSON line: rows written and seconds taken.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { hashVisitor, VisitorSketch } from '../packages/server/src/query/sketches.js';
import { VisitorUnion } from '../packages/server/src/query/visitor-union.js';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  siteId: string;
  events: number;
  lastDay: string;
  days?: number;
};
const DAYS = options.days ?? 365;
const VISITORS = Math.max(100, Math.round(options.events / 10));
const EVENTS_PER_VISIT = 6.3;
// The day weights below average 0.986.
const VISITS = Math.round(options.events / EVENTS_PER_VISIT / 0.986);

// ---------------------------------------------------------------- a seeded generator and skewed picks

let seed = 0x2545f491;
function random(): number {
  // xorshift32
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
/** Index 0…n−1, the first ones far likelier (Zipf, s ≈ 1). */
function zipf(n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(random() * Math.log(n + 1)) - 1));
}
const pick = <T>(items: readonly T[], weights: readonly number[]): T => {
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, weight] of weights.entries()) {
    r -= weight;
    if (r < 0) return items[i] as T;
  }
  return items[items.length - 1] as T;
};

const PATHS = ['/', '/pricing', '/about', '/blog', '/docs', ...Array.from({ length: 195 }, (_, i) => `/p/${i}`)];
const NAMED_SOURCES: [string, string, string | null][] = [
  ['Direct / None', 'Direct', null],
  ['Google', 'Organic Search', 'google.com'],
  ['Bing', 'Organic Search', 'bing.com'],
  ['DuckDuckGo', 'Organic Search', 'duckduckgo.com'],
  ['Facebook', 'Organic Social', 'facebook.com'],
  ['X', 'Organic Social', 't.co'],
  ['LinkedIn', 'Organic Social', 'linkedin.com'],
  ['Reddit', 'Organic Social', 'reddit.com'],
  ['Hacker News', 'Referral', 'news.ycombinator.com'],
  ['GitHub', 'Referral', 'github.com'],
  ['newsletter', 'Email', null],
];
const SOURCES = [
  ...NAMED_SOURCES,
  ...Array.from({ length: 50 - NAMED_SOURCES.length }, (_, i): [string, string, string | null] => [
    `site${i}.example`,
    'Referral',
    `site${i}.example`,
  ]),
];
const COUNTRIES =
  'US DE GB FR IN CA BR NL ES IT PL SE JP AU CH AT BE DK FI NO IE PT CZ RO HU GR TR MX AR CL CO ZA NG KE EG IL KR SG ID VN'.split(
    ' ',
  );
const DEVICES = ['desktop', 'mobile', 'tablet'];
const BROWSERS = ['Chrome', 'Mobile Safari', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'];
const OSES = ['Windows', 'iOS', 'Mac OS', 'Android', 'Linux'];
const LANGUAGES = ['en-US', 'de-DE', 'en-GB', 'fr-FR', 'es-ES', 'ja-JP'];
const CAMPAIGNS = ['spring', 'summer', 'launch', 'weekly'];
const PLANS = ['free', 'pro', 'team'];

// ---------------------------------------------------------------- COPY through psql

interface CopyStream {
  write(fields: (string | number | null)[]): Promise<void>;
  end(): Promise<void>;
  rows: number;
}

const copyText = (value: string | number | null) =>
  value === null
    ? '\\N'
    : String(value).replace(/[\\\t\n\r]/g, (c) =>
        c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\\\',
      );

function copyInto(table: string, columns: string[]): CopyStream {
  const child = spawn(
    'psql',
    [options.url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `COPY ${table} (${columns.join(', ')}) FROM STDIN`],
    {
      stdio: ['pipe', 'inherit', 'inherit'],
    },
  );
  const stdin = child.stdin as Writable;
  const exited = once(child, 'exit');
  let buffer = '';
  const stream: CopyStream = {
    rows: 0,
    async write(fields) {
      buffer += `${fields.map(copyText).join('\t')}\n`;
      stream.rows++;
      if (buffer.length > 1 << 20) {
        const chunk = buffer;
        buffer = '';
        if (!stdin.write(chunk)) await once(stdin, 'drain');
      }
    },
    async end() {
      stdin.end(buffer);
      const [code] = await exited;
      if (code !== 0) throw new Error(`COPY ${table} failed (${code})`);
    },
  };
  return stream;
}

// ---------------------------------------------------------------- per-day rollups

/** A pair rollup slice: counters and its visitors by number (small integers: cheap to keep, no hashing per event). */
interface PairSlice {
  events: number;
  pageviews: number;
  visitors: Set<number>;
}

interface Slice {
  events: number;
  pageviews: number;
  visits: number;
  bounces: number;
  duration: number;
  sketch: VisitorSketch;
}

/** Ids unique per site and kind, so several generated sites share one database. */
let siteTag = 0;
for (const char of options.siteId) siteTag = (Math.imul(siteTag, 31) + char.charCodeAt(0)) >>> 0;
const uuid = (kind: number, n: number) =>
  `${kind.toString(16)}${(siteTag & 0xfffffff).toString(16).padStart(7, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

async function main() {
  const started = performance.now();
  const visitorHashes: bigint[] = [];
  const visitorId = (n: number) => uuid(0xb, n);
  const visitorWords: [number, number][] = [];
  const wordsOf = (n: number): [number, number] => {
    let words = visitorWords[n];
    if (words === undefined) {
      const hash = hashOf(n);
      words = [Number(hash >> 32n), Number(hash & 0xffffffffn)];
      visitorWords[n] = words;
    }
    return words;
  };
  const hashOf = (n: number) => {
    let hash = visitorHashes[n];
    if (hash === undefined) {
      hash = hashVisitor(visitorId(n));
      visitorHashes[n] = hash;
    }
    return hash;
  };
  const visitorTraits: { device: number; browser: number; os: number; country: number; language: number }[] = [];
  const traitsOf = (n: number) => {
    let traits = visitorTraits[n];
    if (traits === undefined) {
      const device = pick([0, 1, 2], [55, 40, 5]);
      traits = {
        device,
        browser: device === 0 ? pick([0, 3, 4, 2], [60, 15, 15, 10]) : pick([1, 0, 5], [50, 40, 10]),
        os: device === 0 ? pick([0, 2, 4], [70, 25, 5]) : pick([1, 3], [50, 50]),
        country: zipf(COUNTRIES.length),
        language: zipf(LANGUAGES.length),
      };
      visitorTraits[n] = traits;
    }
    return traits;
  };

  const site = options.siteId;
  const raw = copyInto('raw_events', [
    'event_id',
    'site_id',
    'event_type',
    'path',
    'visitor_id',
    'event_ts',
    'ingestion_ts',
    'referrer',
    'props',
    'utm_source',
    'utm_medium',
    'utm_campaign',
    'language',
    'source',
    'channel',
    'referrer_domain',
    'device',
    'browser',
    'os',
    'country',
  ]);
  const visitsOut = copyInto('visits', [
    'site_id',
    'visitor_id',
    'started_at',
    'ended_at',
    'date',
    'events',
    'pageviews',
    'entry_page',
    'exit_page',
    'first_event_id',
    'exit_at',
    'exit_event_id',
    'source',
    'channel',
    'referrer_domain',
    'utm_source',
    'utm_medium',
    'utm_campaign',
    'device',
    'browser',
    'os',
    'country',
    'language',
  ]);
  const rollups = copyInto('site_daily_rollups', [
    'site_id',
    'date',
    'dimension',
    'value',
    'events',
    'pageviews',
    'visits',
    'bounces',
    'duration_s',
    'visitors_sum',
    'visitors_sketch',
  ]);
  // Whole weeks and months, as the worker seals them (`query/periods.ts`): counters summed, sketches merged.
  const periodColumns = (column: string) => [
    'site_id',
    column,
    'dimension',
    'value',
    'events',
    'pageviews',
    'visits',
    'bounces',
    'duration_s',
    'visitors_sketch',
    'visitors_estimate',
  ];
  const months = copyInto('site_monthly_rollups', periodColumns('month'));
  const weeks = copyInto('site_weekly_rollups', periodColumns('week'));
  let monthSlices = new Map<string, Slice>();
  let weekSlices = new Map<string, Slice>();
  const addSlices = (period: Map<string, Slice>, slices: Map<string, Slice>) => {
    for (const [key, s] of slices) {
      let sum = period.get(key);
      if (sum === undefined) {
        sum = { events: 0, pageviews: 0, visits: 0, bounces: 0, duration: 0, sketch: new VisitorSketch() };
        period.set(key, sum);
      }
      sum.events += s.events;
      sum.pageviews += s.pageviews;
      sum.visits += s.visits;
      sum.bounces += s.bounces;
      sum.duration += s.duration;
      sum.sketch.merge(s.sketch);
    }
  };
  const writePeriod = async (stream: CopyStream, first: string, period: Map<string, Slice>) => {
    for (const [key, m] of period) {
      const [dimension, value] = key.split('\u0000') as [string, string];
      const bytes = m.sketch.serialize();
      await stream.write([
        site,
        first,
        dimension,
        value,
        m.events,
        m.pageviews,
        m.visits,
        m.bounces,
        m.duration,
        `\\x${bytes.toString('hex')}`,
        m.sketch.estimate(),
      ]);
    }
  };
  // Pair rollups (source, channel, country, device × path), as `worker/sketches.ts` seals them; the row with
  // empty names is the day's (month's) marker, holding its event count.
  const pairColumns = ['site_id', 'filter_dimension', 'filter_value', 'dimension', 'values', 'events', 'pageviews'];
  const dayPairs = copyInto('site_daily_pair_rollups', [...pairColumns, 'sketch_ends', 'sketches', 'date']);
  const monthPairs = copyInto('site_monthly_pair_rollups', [...pairColumns, 'sketch_ends', 'sketches', 'month']);
  /** Packed pair rows (one per filter value, `site-pair-rollups.ts`) from slices keyed filter, value, path. */
  const writePairs = async (stream: CopyStream, day: string, events: number, slices: Map<string, PairSlice>) => {
    await stream.write([site, '', '', '', '{}', `{${events}}`, '{}', '{}', '\\x', day]);
    const packs = new Map<string, [string, PairSlice][]>();
    for (const [key, slice] of [...slices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const cut = key.lastIndexOf('\u0000');
      const pack = packs.get(key.slice(0, cut)) ?? [];
      pack.push([key.slice(cut + 1), slice]);
      packs.set(key.slice(0, cut), pack);
    }
    const array = (items: (string | number)[]) =>
      `{${items.map((item) => (typeof item === 'number' ? item : `"${item.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
    for (const [key, entries] of packs) {
      const [filter, filterValue] = key.split('\u0000') as [string, string];
      const sketches = entries.map(([, slice]) => {
        // The visitors' sketch, as the worker writes it (`VisitorUnion`: sorted hashes, or registers past 3,000).
        const union = new VisitorUnion();
        for (const n of slice.visitors) {
          const [high, low] = wordsOf(n);
          union.addHashWords(high, low);
        }
        return union.serialize();
      });
      let end = 0;
      await stream.write([
        site,
        filter,
        filterValue,
        'path',
        array(entries.map(([path]) => path)),
        array(entries.map(([, slice]) => slice.events)),
        array(entries.map(([, slice]) => slice.pageviews)),
        array(sketches.map((sketch) => (end += sketch.length))),
        `\\x${Buffer.concat(sketches).toString('hex')}`,
        day,
      ]);
    }
  };
  let monthPairSlices = new Map<string, PairSlice>();
  let monthEvents = 0;
  const aggregates = copyInto('site_daily_aggregates', ['site_id', 'date', 'total_views', 'unique_users']);
  const pathCounts = copyInto('site_daily_path_counts', ['site_id', 'date', 'path', 'views']);
  const dayVisitors = copyInto('site_daily_unique_users', ['site_id', 'date', 'visitor_id']);
  // Each day sealed with its event count, as `worker/sketches.ts` records it: without, a worker in the timed
  // server (`ROLE=all` in `npm run bench`) would seal all 365 days again while the queries are timed.
  const seals = copyInto('site_day_seals', ['site_id', 'date', 'events']);

  const lastDayMs = Date.parse(`${options.lastDay}T00:00:00Z`);
  let nextVisitor = 0;
  let nextEvent = 0;
  let eventsWritten = 0;
  for (let d = 0; d < DAYS; d++) {
    const dayMs = lastDayMs - (DAYS - 1 - d) * 86_400_000;
    const day = new Date(dayMs).toISOString().slice(0, 10);
    const weekday = new Date(dayMs).getUTCDay();
    // Weekends are quieter; the site grows over the year.
    const weight = (weekday === 0 || weekday === 6 ? 0.7 : 1.1) * (0.7 + (0.6 * d) / DAYS);
    const visitsToday = Math.round((VISITS / DAYS) * weight);
    const slices = new Map<string, Slice>();
    const slice = (dimension: string, value: string) => {
      const key = `${dimension}\u0000${value}`;
      let s = slices.get(key);
      if (s === undefined) {
        s = { events: 0, pageviews: 0, visits: 0, bounces: 0, duration: 0, sketch: new VisitorSketch() };
        slices.set(key, s);
      }
      return s;
    };
    const pairs = new Map<string, PairSlice>();
    const pair = (key: string) => {
      let p = pairs.get(key);
      if (p === undefined) {
        p = { events: 0, pageviews: 0, visitors: new Set() };
        pairs.set(key, p);
      }
      return p;
    };
    const pathViews = new Map<string, number>();
    const visitorsToday = new Set<number>();
    const starts = Array.from({ length: visitsToday }, () => dayMs + Math.floor(random() * 86_000_000)).sort(
      (a, b) => a - b,
    );
    for (const start of starts) {
      // Two in three visits are a new visitor's; the others come back.
      const visitor =
        nextVisitor < VISITORS && (nextVisitor === 0 || random() < 0.67)
          ? nextVisitor++
          : Math.floor(random() * nextVisitor);
      const traits = traitsOf(visitor);
      const hash = hashOf(visitor);
      const [source, channel, referrerDomain] = SOURCES[zipf(SOURCES.length)] as [string, string, string | null];
      const campaign =
        source === 'newsletter' || random() < 0.05 ? (CAMPAIGNS[zipf(CAMPAIGNS.length)] as string) : null;
      const utmSource = campaign ? (source === 'Direct / None' ? 'newsletter' : source.toLowerCase()) : null;
      const utmMedium = campaign ? (source === 'newsletter' ? 'email' : 'cpc') : null;
      const bounce = random() < 0.4;
      const views = bounce ? 1 : 2 + Math.min(40, Math.floor(-Math.log(1 - random()) * 8.4));
      const signup = !bounce && random() < 0.1;
      const id = visitorId(visitor);
      const device = DEVICES[traits.device] as string;
      const browser = BROWSERS[traits.browser] as string;
      const os = OSES[traits.os] as string;
      const country = COUNTRIES[traits.country] as string;
      const language = LANGUAGES[traits.language] as string;
      const referrer = referrerDomain ? `https://${referrerDomain}/` : null;

      let at = start;
      let entry = '';
      let exit = '';
      let exitAt = start;
      let exitEventId = '';
      let firstEventId = '';
      const paths: string[] = [];
      const total = views + (signup ? 1 : 0);
      for (let k = 0; k < total; k++) {
        if (k > 0) at += 10_000 + Math.floor(random() * 170_000);
        const isSignup = signup && k === total - 1;
        const path = isSignup ? '/pricing' : (PATHS[k === 0 ? zipf(PATHS.length) : zipf(PATHS.length)] as string);
        const eventId = uuid(0xe, nextEvent++);
        if (k === 0) {
          entry = path;
          firstEventId = eventId;
        }
        const ts = new Date(at).toISOString();
        const props = isSignup ? JSON.stringify({ plan: PLANS[zipf(PLANS.length)] }) : null;
        await raw.write([
          eventId,
          site,
          isSignup ? 'signup' : 'page_view',
          path,
          id,
          ts,
          ts,
          k === 0 ? referrer : null,
          props,
          utmSource,
          utmMedium,
          campaign,
          language,
          source,
          channel,
          referrerDomain,
          device,
          browser,
          os,
          country,
        ]);
        eventsWritten++;
        // Event-level rollups: totals, path, eventType, props.
        const eventType = isSignup ? 'signup' : 'page_view';
        const pageview = isSignup ? 0 : 1;
        for (const [dimension, value] of [
          ['', ''],
          ['path', path],
          ['eventType', eventType],
          ...(isSignup ? [['props:plan', JSON.parse(props as string).plan as string]] : []),
        ] as [string, string][]) {
          const s = slice(dimension, value);
          s.events++;
          s.pageviews += pageview;
          s.sketch.addHash(hash);
        }
        for (const [filter, filterValue] of [
          ['source', source],
          ['channel', channel],
          ['country', country],
          ['device', device],
        ] as [string, string][]) {
          const p = pair(`${filter}\u0000${filterValue}\u0000${path}`);
          p.events++;
          p.pageviews += pageview;
          p.visitors.add(visitor);
        }
        pathViews.set(path, (pathViews.get(path) ?? 0) + 1);
        if (!isSignup) {
          exit = path;
          exitAt = at;
          exitEventId = eventId;
        }
        paths.push(path);
      }
      const duration = Math.floor((at - start) / 1000);
      const isBounce = total === 1 && views === 1 ? 1 : 0;
      await visitsOut.write([
        site,
        id,
        new Date(start).toISOString(),
        new Date(at).toISOString(),
        day,
        total,
        views,
        entry,
        exit,
        firstEventId,
        new Date(exitAt).toISOString(),
        exitEventId,
        source,
        channel,
        referrerDomain,
        utmSource,
        utmMedium,
        campaign,
        device,
        browser,
        os,
        country,
        language,
      ]);
      const totals = slice('', '');
      totals.visits++;
      totals.bounces += isBounce;
      totals.duration += duration;
      for (const [dimension, value] of [
        ['entryPage', entry],
        ['exitPage', exit],
        ['source', source],
        ['channel', channel],
        ['referrer', referrerDomain],
        ['utmSource', utmSource],
        ['utmMedium', utmMedium],
        ['utmCampaign', campaign],
        ['country', country],
        ['device', device],
        ['browser', browser],
        ['os', os],
        ['language', language],
      ] as [string, string | null][]) {
        if (value === null) continue;
        const s = slice(dimension, value);
        s.events += total;
        s.pageviews += views;
        s.visits++;
        s.bounces += isBounce;
        s.duration += duration;
        s.sketch.addHash(hash);
      }
      if (!visitorsToday.has(visitor)) {
        visitorsToday.add(visitor);
        await dayVisitors.write([site, day, id]);
      }
    }
    for (const [key, s] of slices) {
      const [dimension, value] = key.split('\u0000') as [string, string];
      const bytes = s.sketch.serialize();
      await rollups.write([
        site,
        day,
        dimension,
        value,
        s.events,
        s.pageviews,
        s.visits,
        s.bounces,
        s.duration,
        s.sketch.estimate(),
        `\\x${bytes.toString('hex')}`,
      ]);
    }
    addSlices(monthSlices, slices);
    addSlices(weekSlices, slices);
    const dayTotal = slices.get('\u0000')?.events ?? 0;
    await writePairs(dayPairs, day, dayTotal, pairs);
    monthEvents += dayTotal;
    for (const [key, p] of pairs) {
      let month = monthPairSlices.get(key);
      if (month === undefined) {
        month = { events: 0, pageviews: 0, visitors: new Set() };
        monthPairSlices.set(key, month);
      }
      month.events += p.events;
      month.pageviews += p.pageviews;
      for (const n of p.visitors) month.visitors.add(n);
    }
    const tomorrow = new Date(dayMs + 86_400_000).toISOString().slice(0, 10);
    if (tomorrow.endsWith('-01')) {
      const first = `${day.slice(0, 8)}01`;
      // Only a month whose every day was generated is whole.
      if (Date.parse(`${first}T00:00:00Z`) >= lastDayMs - (DAYS - 1) * 86_400_000) {
        await writePeriod(months, first, monthSlices);
        await writePairs(monthPairs, first, monthEvents, monthPairSlices);
      }
      monthSlices = new Map();
      monthPairSlices = new Map();
      monthEvents = 0;
    }
    // A Sunday ends an ISO week, and so does the last day: every week of the year has ended, so the worker
    // seals the two that the year cuts (from the days they have) as well as the whole ones.
    if (new Date(dayMs).getUTCDay() === 0 || d === DAYS - 1) {
      const monday = new Date(dayMs - ((new Date(dayMs).getUTCDay() + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
      await writePeriod(weeks, monday, weekSlices);
      weekSlices = new Map();
    }
    const totals = slices.get('\u0000');
    if (totals) {
      await aggregates.write([site, day, totals.events, visitorsToday.size]);
      await seals.write([site, day, totals.events]);
    }
    for (const [path, count] of pathViews) await pathCounts.write([site, day, path, count]);
  }
  const streams = {
    raw,
    visitsOut,
    rollups,
    weeks,
    months,
    aggregates,
    seals,
    pathCounts,
    dayVisitors,
    dayPairs,
    monthPairs,
  };
  await Promise.all(Object.values(streams).map((stream) => stream.end()));
  process.stdout.write(
    `${JSON.stringify({
      events: eventsWritten,
      visitors: nextVisitor,
      visits: visitsOut.rows,
      rollupRows: rollups.rows,
      weekRows: weeks.rows,
      monthRows: months.rows,
      pairRows: dayPairs.rows,
      monthPairRows: monthPairs.rows,
      seconds: (performance.now() - started) / 1000,
    })}\n`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
