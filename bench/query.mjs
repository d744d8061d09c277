/**
 * The query section of `npm run bench` (SPEC §15): generates a site with
 * `bench/query-data.ts` (COPY, not the HTTP API), then times every query the
 * dashboard makes through `POST /api/query` for a 30-day and a 365-day range,
 * and the 365-day `GET /api/stats`. Each query is timed cold — `--runs`
 * requests (100 in `npm run bench`) with `Cache-Control: no-cache`, each one computed — then cached:
 * 1,000 repeats (100 with `--runs` under 20) in rounds of 100, each round answered from the cache
 * entry a computed request just filled (`X-Tally-Cache` says which). Requests go one at a time over one
 * keep-alive connection, timed from the first byte sent to the last byte
 * received. One untimed request warms a fresh
 * server (its database connections) first. `/api/stats` answers its first request
 * computed and its repeats from its cache.
 *
 * Standalone: `node bench/query.mjs [--events 1000000,10000000] [--runs 100] [--keep] [--role all]` makes its own
 * database and server (API only, unless `--role` says otherwise) and prints the table for each size; `--database NAME` times the
 * sites a `--keep` run left in NAME again, without generating them.
 */
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SERVER_NODE_FLAGS } from '../scripts/server-flags.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const LAST_DAY = '2025-12-31';
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** What the dashboard asks for one range. */
export function dashboardQueries(siteId, days) {
  const dateRange = [addDays(LAST_DAY, -(days - 1)), LAST_DAY];
  const q = (body) => ({ siteId, dateRange, ...body });
  // A breakdown is ordered by an exact counter, so visitor sketches are merged for its 10 rows only;
  // "top pages by visitors" shows what ordering by the estimate costs.
  const top = (dimension, metrics, order) =>
    q({ metrics, dimensions: [dimension], orderBy: [[order, 'desc']], limit: 10 });
  return [
    [
      'headline metrics + comparison',
      q({
        metrics: ['visitors', 'visits', 'pageviews', 'bounceRate', 'visitDuration', 'viewsPerVisit'],
        compare: 'previousPeriod',
      }),
    ],
    ['daily series', q({ metrics: ['visitors', 'pageviews'], dimensions: ['time:day'] })],
    ['top pages', top('path', ['visitors', 'pageviews'], 'pageviews')],
    ['top pages by visitors', top('path', ['visitors', 'pageviews'], 'visitors')],
    ['top entry pages', top('entryPage', ['visitors', 'visits', 'bounceRate'], 'visits')],
    ['top exit pages', top('exitPage', ['visitors', 'visits'], 'visits')],
    ['top sources', top('source', ['visitors', 'visits', 'bounceRate'], 'visits')],
    ['top channels', top('channel', ['visitors', 'visits'], 'visits')],
    ['top UTM campaigns', top('utmCampaign', ['visitors', 'visits'], 'visits')],
    ['top countries', top('country', ['visitors', 'visits'], 'visits')],
    ['top devices', top('device', ['visitors', 'visits'], 'visits')],
    ['top browsers', top('browser', ['visitors', 'visits'], 'visits')],
    ['top OS', top('os', ['visitors', 'visits'], 'visits')],
    ['top events', top('eventType', ['visitors', 'events'], 'events')],
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
        orderBy: [['pageviews', 'desc']],
        limit: 10,
      }),
    ],
  ];
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** One keep-alive connection, as a dashboard holds: the timing is the server's, not a client's connection set-up. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Times one request from its first byte sent to its last byte received (parsing the answer is not timed). */
function ask(base, body, headers = {}) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request(
      `${base}/api/query`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const ms = performance.now() - started;
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (response.statusCode !== 200) reject(new Error(`${response.statusCode}: ${JSON.stringify(answer)}`));
          else resolve({ ms, answer, cache: response.headers['x-tally-cache'] });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** Cold and cached p99 targets, ms: SPEC §15, and a repeated dashboard query (issue #13). */
const COLD_P99_MS = 100;
const CACHED_P99_MS = 5;

/** p50 and p99 of `times`, how many there were, and how many took over `targetMs`. */
const summary = (times, targetMs) => {
  const sorted = [...times].sort((a, b) => a - b);
  const over = sorted.length - sorted.findLastIndex((ms) => ms <= targetMs) - 1;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length, over };
};

/**
 * `runs` computed answers, then repeats from the cache: rounds of 100, each after one untimed computed
 * answer refills the entry, so that every repeat falls within the cache's second (`QUERY_CACHE_MS`).
 * A p99 needs many: of 20 it is the slowest, of 100 the second slowest, whichever request met a stall
 * elsewhere on a shared machine; of 1,000 (10 rounds, with 20 runs or more) it is the tenth. Both
 * kinds also count the requests over their target, which the table reports beside the p99s.
 */
const CACHED_PER_ROUND = 100;
const cachedRounds = (runs) => (runs >= 20 ? 10 : 1);

async function timeQuery(base, body, runs) {
  const cold = [];
  let answer;
  for (let i = 0; i < runs; i++) {
    const asked = await ask(base, body, { 'cache-control': 'no-cache' });
    if (asked.cache === 'hit') throw new Error('a no-cache request was answered from the cache');
    cold.push(asked.ms);
    answer = asked.answer;
  }
  const cached = [];
  let misses = 0;
  for (let round = 0; round < cachedRounds(runs); round++) {
    if (round > 0) await ask(base, body, { 'cache-control': 'no-cache' });
    for (let i = 0; i < CACHED_PER_ROUND; i++) {
      const asked = await ask(base, body);
      if (asked.cache !== 'hit') misses += 1;
      cached.push(asked.ms);
    }
  }
  return {
    cold: summary(cold, COLD_P99_MS),
    cached: { ...summary(cached, CACHED_P99_MS), misses },
    approximate: answer.meta.approximate.length > 0,
  };
}

/** Generates `events` events for `siteId` into `databaseUrl` and times the dashboard against `base`. */
export async function runQueryBench({ base, databaseUrl, siteId, events, runs, generate = true }) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    if (!generate) {
      // A site generated by an earlier run (`--database`): time it again as it is.
      const { rows } = await db.query(
        `SELECT (SELECT count(*)::int FROM visits WHERE site_id = $1) AS visits,
                (SELECT count(*)::int FROM site_daily_rollups WHERE site_id = $1) AS "rollupRows",
                (SELECT count(*)::int FROM site_weekly_rollups WHERE site_id = $1) AS "weekRows",
                (SELECT count(*)::int FROM site_monthly_rollups WHERE site_id = $1) AS "monthRows",
                (SELECT coalesce(sum(total_views), 0)::int FROM site_daily_aggregates WHERE site_id = $1) AS events`,
        [siteId],
      );
      return await timeDashboard({ db, base, siteId, events, runs, data: { ...rows[0], seconds: 0 } });
    }
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
      'VACUUM ANALYZE raw_events, visits, site_daily_rollups, site_weekly_rollups, site_monthly_rollups, site_daily_aggregates, site_daily_path_counts, site_daily_unique_users, site_daily_pair_rollups, site_monthly_pair_rollups',
    );
    data.analyzeSeconds = (performance.now() - analyzeStarted) / 1000;
    // The bulk load's own writes (gigabytes at 10M, checkpoints seconds apart) are flushed before the timing
    // starts: the queries are timed against data at rest, not the tail of a load
    // no real site makes in one go. Needs a superuser or pg_checkpoint; without, the timing starts at once.
    await db.query('CHECKPOINT').catch((error) => log(`no CHECKPOINT before timing: ${error.message}`));
    log(`generated ${JSON.stringify(data)}; timing queries`);
    return await timeDashboard({ db, base, siteId, events, runs, data });
  } finally {
    await db.end();
  }
}

async function timeDashboard({ db, base, siteId, events, runs, data }) {
  {
    const queries = {};
    // One untimed request first: a fresh server opens its database connections and compiles its code on it,
    // which the first timed query would otherwise pay.
    await ask(base, dashboardQueries(siteId, 30)[0][1], { 'cache-control': 'no-cache' });
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
  }
}

export function printQueryTable(results) {
  const fmt = (n, digits = 1) => (n === undefined ? 'n/a' : Number(n).toFixed(digits));
  const names = Object.keys(results[0].queries);
  // Two columns per site size: computed answers, then repeats from the answer cache.
  const header = [
    'query, range (ms)',
    ...results.flatMap((r) => {
      const size = `${(r.events / 1e6).toLocaleString('en-US')}M events`;
      return [`${size}: cold p50/p99`, `${size}: cached p50/p99`];
    }),
  ];
  const rows = names.map((name) => [
    name,
    ...results.flatMap((r) => {
      const { cold, cached, approximate } = r.queries[name];
      return [
        `${fmt(cold.p50)} / ${fmt(cold.p99)}${approximate ? ' ≈' : ''}${cold.p99 > COLD_P99_MS ? ' !' : ''}`,
        `${fmt(cached.p50, 2)} / ${fmt(cached.p99, 2)}${cached.p99 > CACHED_P99_MS ? ' !' : ''}${
          cached.misses > 0 ? ` (${cached.misses} missed)` : ''
        }`,
      ];
    }),
  ]);
  /** "n of all (x %)" of the requests over a target, summed over the queries. */
  const overOfAll = (timings) => {
    const over = timings.reduce((sum, t) => sum + t.over, 0);
    const all = timings.reduce((sum, t) => sum + t.count, 0);
    return `${over} of ${all.toLocaleString('en-US')} (${((100 * over) / all).toFixed(2)} %)`;
  };
  rows.push([
    `requests over ${COLD_P99_MS} ms cold, ${CACHED_P99_MS} ms cached, of all`,
    ...results.flatMap((r) => {
      const queries = Object.values(r.queries);
      return [overOfAll(queries.map((q) => q.cold)), overOfAll(queries.map((q) => q.cached))];
    }),
  ]);
  rows.push([
    'GET /api/stats 365 d: first, then cached',
    ...results.flatMap((r) => [fmt(r.stats365.firstMs), fmt(r.stats365.cachedMs, 2)]),
  ]);
  rows.push([
    'GET /api/stats 365 d uniqueUsers (exact)',
    ...results.flatMap((r) => [
      `${r.stats365.uniqueUsers.toLocaleString('en-US')} (${r.stats365.exactUniqueUsers.toLocaleString('en-US')}, ${(
        (100 * (r.stats365.uniqueUsers - r.stats365.exactUniqueUsers)) / r.stats365.exactUniqueUsers
      ).toFixed(2)} %)`,
      '',
    ]),
  ]);
  rows.push([
    'generated: events / visits / day / week / month rows, s',
    ...results.flatMap((r) => [
      `${r.data.events.toLocaleString('en-US')} / ${r.data.visits.toLocaleString('en-US')} / ${r.data.rollupRows.toLocaleString('en-US')} / ${(r.data.weekRows ?? 0).toLocaleString('en-US')} / ${(r.data.monthRows ?? 0).toLocaleString('en-US')}, ${fmt(r.data.seconds, 0)} s`,
      '',
    ]),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(
    `\nQuery API (POST /api/query; cold = Cache-Control: no-cache, computed; cached = repeats from the answer cache; ≈ = visitors estimated; ! = p99 over ${COLD_P99_MS} ms cold or ${CACHED_P99_MS} ms cached)`,
  );
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
  const reuse = arg('database', undefined);
  const name = reuse ?? `tally_qbench_${Date.now().toString(36)}`;
  if (!reuse) {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const port = 3990 + Math.floor(Math.random() * 9);
  const server = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(root, 'packages/server/dist/main.js')], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `{${name}}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      ROLE: arg('role', 'api'),
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        // /readyz, not /healthz: the server answers before its migrations are done.
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch {}
      if (i > 300) throw new Error('server did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const results = [];
    for (const events of sizes) {
      results.push(
        await runQueryBench({ base, databaseUrl, siteId: `bench_q${events}`, events, runs, generate: !reuse }),
      );
    }
    printQueryTable(results);
    console.log(JSON.stringify(results));
  } finally {
    server.kill('SIGTERM');
    if (!process.argv.includes('--keep') && !reuse) {
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
