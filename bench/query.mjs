/**
 * The query section of `npm run bench` (SPEC §15): generates a site with
 * `bench/query-data.ts` (COPY, not the HTTP API), then times every query the
 * dashboard makes through `POST /api/query` for a 30-day and a 365-day range,
 * and the 365-day `GET /api/stats`. The server has no query cache, so every
 * `/api/query` answer is computed; `/api/stats` answers its first request
 * computed and its repeats from its cache.
 *
 * Standalone: `node bench/query.mjs [--events 1000000,10000000] [--runs 20] [--keep]` makes its own
 * database and server (API only) and prints the table for each size.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const LAST_DAY = '2025-12-31';
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** What the dashboard asks for one range. */
export function dashboardQueries(siteId, days) {
  const dateRange = [addDays(LAST_DAY, -(days - 1)), LAST_DAY];
  const q = (body) => ({ siteId, dateRange, ...body });
  const top = (dimension, metrics = ['visitors', 'pageviews']) => q({ metrics, dimensions: [dimension], limit: 10 });
  return [
    [
      'headline metrics + comparison',
      q({
        metrics: ['visitors', 'visits', 'pageviews', 'bounceRate', 'visitDuration', 'viewsPerVisit'],
        compare: 'previousPeriod',
      }),
    ],
    ['daily series', q({ metrics: ['visitors', 'pageviews'], dimensions: ['time:day'] })],
    ['top pages', top('path')],
    ['top entry pages', top('entryPage', ['visitors', 'visits', 'bounceRate'])],
    ['top exit pages', top('exitPage', ['visitors', 'visits'])],
    ['top sources', top('source', ['visitors', 'visits', 'bounceRate'])],
    ['top channels', top('channel', ['visitors', 'visits'])],
    ['top UTM campaigns', top('utmCampaign', ['visitors', 'visits'])],
    ['top countries', top('country', ['visitors', 'visits'])],
    ['top devices', top('device', ['visitors', 'visits'])],
    ['top browsers', top('browser', ['visitors', 'visits'])],
    ['top OS', top('os', ['visitors', 'visits'])],
    ['top events', top('eventType', ['visitors', 'events'])],
    [
      'filtered: headline, source = Google',
      q({
        metrics: ['visitors', 'visits', 'pageviews', 'bounceRate'],
        filters: [['is', 'source', ['Google']]],
        compare: 'previousPeriod',
      }),
    ],
    [
      'filtered: top pages, source = Google',
      q({
        metrics: ['visitors', 'pageviews'],
        dimensions: ['path'],
        filters: [['is', 'source', ['Google']]],
        limit: 10,
      }),
    ],
  ];
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function timeQuery(base, body, runs) {
  const times = [];
  let answer;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const response = await fetch(`${base}/api/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    answer = await response.json();
    if (response.status !== 200) throw new Error(`${response.status}: ${JSON.stringify(answer)}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), approximate: answer.meta.approximate.length > 0 };
}

/** Generates `events` events for `siteId` into `databaseUrl` and times the dashboard against `base`. */
export async function runQueryBench({ base, databaseUrl, siteId, events, runs }) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(`INSERT INTO sites (site_id, time_zone, public) VALUES ($1, 'UTC', true)`, [siteId]);
    log(`generating ${events.toLocaleString('en-US')} events for ${siteId}`);
    const generated = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'bench/query-data.ts'),
        JSON.stringify({ url: databaseUrl, siteId, events, lastDay: LAST_DAY }),
      ],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    );
    if (generated.status !== 0) throw new Error('query-data generator failed');
    const data = JSON.parse(generated.stdout.trim().split('\n').pop());
    const analyzeStarted = performance.now();
    await db.query(
      'VACUUM ANALYZE raw_events, visits, site_daily_rollups, site_monthly_rollups, site_daily_aggregates',
    );
    data.analyzeSeconds = (performance.now() - analyzeStarted) / 1000;
    log(`generated ${JSON.stringify(data)}; timing queries`);

    const queries = {};
    for (const days of [30, 365]) {
      for (const [name, body] of dashboardQueries(siteId, days)) {
        queries[`${name} | ${days}d`] = await timeQuery(base, body, runs);
      }
    }
    const statsTimes = [];
    let uniqueUsers;
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/api/stats?siteId=${siteId}&from=${addDays(LAST_DAY, -364)}&to=${LAST_DAY}`);
      const body = await response.json();
      uniqueUsers = body.uniqueUsers;
      statsTimes.push(performance.now() - started);
    }
    const { rows } = await db.query(
      `SELECT count(DISTINCT visitor_id)::int AS n FROM site_daily_unique_users WHERE site_id = $1`,
      [siteId],
    );
    return {
      events,
      data,
      queries,
      stats365: {
        firstMs: statsTimes[0],
        cachedMs: statsTimes.slice(1).sort((a, b) => a - b)[2],
        uniqueUsers,
        exactUniqueUsers: rows[0].n,
      },
    };
  } finally {
    await db.end();
  }
}

export function printQueryTable(results) {
  const fmt = (n, digits = 1) => (n === undefined ? 'n/a' : Number(n).toFixed(digits));
  const sizes = results.map((r) => r.events);
  const names = Object.keys(results[0].queries);
  const header = ['query (p50 / p99 ms)', ...sizes.map((n) => `${(n / 1e6).toLocaleString('en-US')}M events`)];
  const rows = names.map((name) => [
    name,
    ...results.map((r) => {
      const t = r.queries[name];
      return `${fmt(t.p50)} / ${fmt(t.p99)}${t.approximate ? ' ≈' : ''}${t.p99 > 100 ? ' !' : ''}`;
    }),
  ]);
  rows.push([
    'GET /api/stats 365 d: first / cached ms',
    ...results.map((r) => `${fmt(r.stats365.firstMs)} / ${fmt(r.stats365.cachedMs)}`),
  ]);
  rows.push([
    'GET /api/stats 365 d uniqueUsers (exact)',
    ...results.map(
      (r) =>
        `${r.stats365.uniqueUsers.toLocaleString('en-US')} (${r.stats365.exactUniqueUsers.toLocaleString('en-US')}, ${(
          (100 * (r.stats365.uniqueUsers - r.stats365.exactUniqueUsers)) / r.stats365.exactUniqueUsers
        ).toFixed(2)} %)`,
    ),
  ]);
  rows.push([
    'generated: events / visits / day rows / month rows, s',
    ...results.map(
      (r) =>
        `${r.data.events.toLocaleString('en-US')} / ${r.data.visits.toLocaleString('en-US')} / ${r.data.rollupRows.toLocaleString('en-US')} / ${(r.data.monthRows ?? 0).toLocaleString('en-US')}, ${fmt(r.data.seconds, 0)} s`,
    ),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log('\nQuery API (POST /api/query, no query cache; ≈ = visitors estimated; ! = over the 100 ms p99 target)');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

// ---------------------------------------------------------------- standalone

async function standalone() {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
  };
  const sizes = String(arg('events', '1000000,10000000')).split(',').map(Number);
  const runs = Number(arg('runs', 20));
  const admin = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `tally_qbench_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const port = 3990 + Math.floor(Math.random() * 9);
  const server = spawn(process.execPath, [join(root, 'packages/server/dist/main.js')], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `{${name}}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      ROLE: 'api',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {}
      if (i > 300) throw new Error('server did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const results = [];
    for (const events of sizes) {
      results.push(await runQueryBench({ base, databaseUrl, siteId: `bench_q${events}`, events, runs }));
    }
    printQueryTable(results);
    console.log(JSON.stringify(results));
  } finally {
    server.kill('SIGTERM');
    if (!process.argv.includes('--keep')) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const drop = new pg.Client({ connectionString: admin });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    } else log(`kept database ${name}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  standalone().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
