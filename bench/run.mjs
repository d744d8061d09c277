#!/usr/bin/env node
/**
 * `npm run bench` (SPEC §8): starts the real stack as `npm start` runs it (API
 * and worker in one process) on a fresh database and queue prefix, drives load
 * from a separate process on loopback, measures a bare node:http 202 server in
 * the same run, prints a table with ratios and writes bench/results.json.
 * `--quick` shrinks every phase for a CI smoke run (it asserts no speed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { SERVER_NODE_FLAGS } from '../scripts/server-flags.mjs';
import { rssMb, stopChildren } from './proc.mjs';
import { printQueryTable, runQueryBench } from './query.mjs';
import { deletePrefixedKeys } from './queue-keys.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUE = 'analytics-events';

const plan = quick
  ? {
      seconds: 2,
      seed: 2_000,
      growthBacklog: 10_000,
      bigTarget: 30_000,
      freshnessProbes: 10,
      rangeRows: 20_000,
      queryEvents: [20_000],
      queryRuns: 3,
    }
  : {
      seconds: 10,
      seed: 10_000,
      growthBacklog: 100_000,
      bigTarget: 1_000_000,
      freshnessProbes: 40,
      rangeRows: 1_000_000,
      // BENCH_QUERY_EVENTS=1000000,10000000 (the default) sets the query section's sites.
      queryEvents: (process.env.BENCH_QUERY_EVENTS ?? '1000000,10000000').split(',').map(Number),
      queryRuns: 100,
    };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const today = new Date().toISOString().slice(0, 10);
/** The step the bench is in, for the server's peak RSS to name when it was reached. */
let phase = 'start';
const log = (message) => {
  phase = message;
  process.stderr.write(`[bench] ${message}\n`);
};

// ---------------------------------------------------------------- processes

function startProcess(args, env) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  child.lastStderr = () => stderr;
  return child;
}

async function runLoad(options) {
  const child = startProcess([join(root, 'bench/load.mjs'), JSON.stringify({ date: today, ...options })]);
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`load generator failed: ${child.lastStderr()}`);
  const result = JSON.parse(stdout.trim().split('\n').pop());
  return { ...result, rps: result.requests / result.seconds };
}

async function waitForHttp(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not become ready`);
}

// ---------------------------------------------------------------- stack

async function createDatabase() {
  const name = `tally_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function main() {
  if (!existsSync(join(root, 'packages/server/dist/main.js'))) {
    log('building…');
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) process.exit(1);
  }
  const results = { quick, date: new Date().toISOString(), node: process.version, figures: {} };
  const figures = results.figures;
  const database = await createDatabase();
  const prefix = `{tally-bench-${Date.now().toString(36)}}`;
  const redis = new Redis(REDIS_URL);
  const queue = new Queue(QUEUE, { connection: redis, prefix });
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  const redisMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 1024 / 1024;
  const children = [];
  const cleanup = async () => {
    // Every server gone before the prefix's keys are, so that none writes under it afterwards.
    await stopChildren(children);
    await deletePrefixedKeys(redis, prefix).catch(() => {});
    await queue.close();
    redis.disconnect();
    await db.end();
    await database.drop().catch((error) => log(`could not drop ${database.name}: ${error.message}`));
  };

  try {
    // ------------------------------------------------------------ baseline
    log('bare node:http baseline');
    const bare = startProcess([join(root, 'bench/bare-server.mjs')]);
    children.push(bare);
    const barePort = await new Promise((resolve) =>
      bare.stdout.once('data', (chunk) => resolve(JSON.parse(chunk).port)),
    );
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bareIngest = await runLoad({ mode: 'event', url: bareUrl, connections: 32, duration: plan.seconds });
    const bareGet = await runLoad({ mode: 'get', url: bareUrl, connections: 8, duration: plan.seconds });
    bare.kill('SIGTERM');

    // ------------------------------------------------------------ the stack, as npm start runs it
    const port = 3900 + Math.floor(Math.random() * 90);
    const base = `http://127.0.0.1:${port}`;
    const server = startProcess([...SERVER_NODE_FLAGS, join(root, 'packages/server/dist/main.js')], {
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      ROLE: 'all',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    });
    children.push(server);
    server.stdout.resume();
    server.on('exit', (code) => code && log(`server exited ${code}: ${server.lastStderr()}`));
    await waitForHttp(`${base}/healthz`);
    let peakRss = rssMb(server.pid);
    let peakRssPhase = phase;
    const rssTimer = setInterval(() => {
      const rss = rssMb(server.pid);
      if (rss > peakRss) [peakRss, peakRssPhase] = [rss, phase];
    }, 200);
    const redisAtStart = await redisMemory();

    const backlog = async () => {
      const c = await queue.getJobCounts('wait', 'paused', 'active', 'delayed', 'prioritized');
      return Object.values(c).reduce((a, b) => a + b, 0);
    };
    const drain = async (timeoutMs = 600_000) => {
      const deadline = Date.now() + timeoutMs;
      while ((await backlog()) > 0) {
        if (Date.now() > deadline) throw new Error('queue did not drain');
        await sleep(20);
      }
    };
    const storedEvents = async () => Number((await db.query('select count(*) from raw_events')).rows[0].count);
    /** Queues `events` with the worker paused, then times the drain. */
    const fillAndDrain = async (events) => {
      await queue.pause();
      const load = await runLoad({
        mode: 'batch',
        url: `${base}/api/events`,
        connections: 32,
        amount: Math.ceil(events / 20),
      });
      const before = await storedEvents();
      const started = performance.now();
      await queue.resume();
      await drain();
      const seconds = (performance.now() - started) / 1000;
      const processed = (await storedEvents()) - before;
      return { load, processed, seconds, rate: processed / seconds };
    };

    // ------------------------------------------------------------ drain rate on a small table, then on ≥ 1M rows
    log(`seeding ${plan.seed} events`);
    await fillAndDrain(plan.seed);
    log(`drain of ${plan.growthBacklog} at ${await storedEvents()} stored`);
    const smallDrain = await fillAndDrain(plan.growthBacklog);

    log('batch ingest (worker paused), then the drain of that backlog');
    await queue.pause();
    const batchLoad = await runLoad({
      mode: 'batch',
      url: `${base}/api/events`,
      connections: 32,
      duration: plan.seconds,
    });
    const bigBacklog = await backlog();
    const beforeBig = await storedEvents();
    const bigStarted = performance.now();
    await queue.resume();
    await drain();
    const bigSeconds = (performance.now() - bigStarted) / 1000;
    const bigProcessed = (await storedEvents()) - beforeBig;

    while ((await storedEvents()) < plan.bigTarget) {
      const missing = plan.bigTarget - (await storedEvents());
      log(`filling to ${plan.bigTarget} stored (${missing} to go)`);
      await fillAndDrain(Math.min(missing, 500_000));
    }
    log(`drain of ${plan.growthBacklog} at ${await storedEvents()} stored`);
    const largeDrain = await fillAndDrain(plan.growthBacklog);

    // ------------------------------------------------------------ single events, worker running
    log('single-event ingest, 32 connections');
    const single = await runLoad({ mode: 'event', url: `${base}/api/event`, connections: 32, duration: plan.seconds });
    await drain();

    // ------------------------------------------------------------ freshness under a steady 5,000 events/s
    log('freshness at a steady 5,000 events/s');
    const background = runLoad({
      mode: 'event',
      url: `${base}/api/event`,
      connections: 16,
      duration: plan.seconds + 2,
      overallRate: 5_000,
    });
    await sleep(1_000);
    const freshness = [];
    for (let k = 0; k < plan.freshnessProbes; k++) {
      const siteId = `fresh_${k}_${Date.now()}`;
      const response = await fetch(`${base}/api/event`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ siteId, eventType: 'page_view', path: '/', timestamp: new Date().toISOString() }),
      });
      const acceptedAt = performance.now();
      if (response.status !== 202) throw new Error(`probe got ${response.status}`);
      const statsUrl = `${base}/api/stats?siteId=${siteId}&date=${new Date().toISOString().slice(0, 10)}`;
      for (;;) {
        if ((await fetch(statsUrl)).status === 200) break;
        if (performance.now() - acceptedAt > 30_000) throw new Error('probe never became visible');
        await sleep(2);
      }
      freshness.push(performance.now() - acceptedAt);
      await sleep((plan.seconds * 1000) / plan.freshnessProbes / 2);
    }
    const backgroundLoad = await background;
    await drain();

    // ------------------------------------------------------------ stats reads
    log('stats, 8 connections');
    const stats = await runLoad({
      mode: 'get',
      url: `${base}/api/stats?siteId=bench&date=${today}`,
      connections: 8,
      duration: plan.seconds,
    });

    // ------------------------------------------------------------ a 365-day range over a large visitor ledger
    log(`365-day range over ${plan.rangeRows} ledger rows`);
    await db.query(
      `insert into site_daily_unique_users (site_id, date, visitor_id)
       select 'range_site', date '2025-01-01' + (g % 365), gen_random_uuid()::text from generate_series(1, $1) g`,
      [plan.rangeRows],
    );
    await db.query(
      `insert into site_daily_aggregates (site_id, date, total_views, unique_users)
       select 'range_site', date '2025-01-01' + d, 3000, $1::bigint / 365 from generate_series(0, 364) d`,
      [plan.rangeRows],
    );
    await db.query(
      `insert into site_daily_path_counts (site_id, date, path, views)
       select 'range_site', date '2025-01-01' + d, '/p/' || p, 100 from generate_series(0, 364) d, generate_series(1, 30) p`,
    );
    await db.query('analyze');
    // The first answer is computed by PostgreSQL; the repeats come from the stats cache.
    const rangeTimes = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/api/stats?siteId=range_site&from=2025-01-01&to=2025-12-31`);
      await response.json();
      rangeTimes.push(performance.now() - started);
    }
    const rangeCold = rangeTimes[0];
    const rangeCached = rangeTimes.slice(1).sort((a, b) => a - b);

    clearInterval(rssTimer);
    const stored = await storedEvents();
    // The server's own count of events it answered 202 for (client-side counts miss the
    // requests still in flight when a timed load run stops).
    const metricsText = await (await fetch(`${base}/metrics`)).text();
    const serverAccepted = Number(
      /^tally_ingest_events_total\{outcome="accepted"\} (\d+)/m.exec(metricsText)?.[1] ?? NaN,
    );
    const redisAfter = await redisMemory();

    // ------------------------------------------------------------ the query API on generated sites (bench/query.mjs), after the ingest counts
    const queryResults = [];
    for (const events of plan.queryEvents) {
      queryResults.push(
        await runQueryBench({
          base,
          databaseUrl: database.url,
          siteId: `bench_q${events}`,
          events,
          runs: plan.queryRuns,
        }),
      );
    }
    figures.query = queryResults;

    // ------------------------------------------------------------ tracker size
    const trackerPath = join(root, 'packages/sdk/dist/tally.js');
    const trackerBytes = existsSync(trackerPath) ? gzipSync(readFileSync(trackerPath), { level: 9 }).length : null;

    // ------------------------------------------------------------ what enrichment costs the API per event (bench/enrich.ts)
    const enrich = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/enrich.ts')], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (enrich.status !== 0) throw new Error('bench/enrich.ts failed');
    const enrichment = JSON.parse(enrich.stdout.trim().split('\n').pop());

    const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    freshness.sort((a, b) => a - b);
    Object.assign(figures, {
      bareIngestRps: bareIngest.rps,
      bareGetRps: bareGet.rps,
      singleIngest: { rps: single.rps, p50: single.p50, p99: single.p99, non2xx: single.non2xx, errors: single.errors },
      batchIngestEventsPerSecond: (batchLoad.ok * 20) / batchLoad.seconds,
      batchIngest: { rps: batchLoad.rps, p50: batchLoad.p50, p99: batchLoad.p99, non2xx: batchLoad.non2xx },
      drainBacklog: {
        events: bigBacklog,
        processed: bigProcessed,
        seconds: bigSeconds,
        rate: bigProcessed / bigSeconds,
      },
      drainSmallTable: { stored: plan.seed, rate: smallDrain.rate },
      drainLargeTable: { stored: stored, rate: largeDrain.rate },
      freshnessMs: {
        p50: pct(freshness, 50),
        p99: pct(freshness, 99),
        probes: freshness.length,
        backgroundRps: backgroundLoad.rps,
      },
      stats: { rps: stats.rps, p50: stats.p50, p99: stats.p99 },
      rangeQueryMs: { cold: rangeCold, cachedMedian: pct(rangeCached, 50), ledgerRows: plan.rangeRows },
      serverPeakRssMb: peakRss,
      serverPeakRssPhase: peakRssPhase,
      redisMemoryMb: { start: redisAtStart, afterDrain: redisAfter },
      trackerGzipBytes: trackerBytes,
      enrichmentMicros: enrichment,
      accepted: serverAccepted,
      stored,
      lost: serverAccepted - stored,
    });
    printTable(results);
    printQueryTable(queryResults);
    writeFileSync(join(root, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await cleanup();
  }
}

function printTable({ figures: f, quick: isQuick }) {
  const fmt = (n, digits = 0) =>
    n === null || n === undefined ? 'n/a' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
  const rows = [
    ['bare node:http 202, 32 conns', `${fmt(f.bareIngestRps)} req/s`, '1.00×', ''],
    [
      'POST /api/event, 32 conns',
      `${fmt(f.singleIngest.rps)} req/s`,
      `${(f.singleIngest.rps / f.bareIngestRps).toFixed(2)}× bare`,
      '≥ 0.50× bare',
    ],
    ['  latency p50 / p99', `${f.singleIngest.p50} / ${f.singleIngest.p99} ms`, '', 'p99 ≤ 10 ms'],
    [
      'POST /api/events, 20 per request',
      `${fmt(f.batchIngestEventsPerSecond)} events/s`,
      `${(f.batchIngestEventsPerSecond / f.bareIngestRps).toFixed(2)}× bare req/s`,
      '≥ 60,000 events/s',
    ],
    [
      'drain of backlog into PostgreSQL',
      `${fmt(f.drainBacklog.rate)} events/s`,
      `${fmt(f.drainBacklog.events)} jobs`,
      '≥ 25,000 events/s, backlog ≥ 500k',
    ],
    [`drain rate at ${fmt(f.drainSmallTable.stored)} stored`, `${fmt(f.drainSmallTable.rate)} events/s`, '', ''],
    [
      `drain rate at ${fmt(f.drainLargeTable.stored)} stored`,
      `${fmt(f.drainLargeTable.rate)} events/s`,
      `${(f.drainLargeTable.rate / f.drainSmallTable.rate).toFixed(2)}× small`,
      'within 20% (≥ 0.80×)',
    ],
    [
      'freshness at 5,000 events/s, p50 / p99',
      `${fmt(f.freshnessMs.p50)} / ${fmt(f.freshnessMs.p99)} ms`,
      `bg ${fmt(f.freshnessMs.backgroundRps)} req/s`,
      'p99 ≤ 1,000 ms',
    ],
    ['bare node:http 202, 8 conns', `${fmt(f.bareGetRps)} req/s`, '1.00×', ''],
    [
      'GET /api/stats, 8 conns',
      `${fmt(f.stats.rps)} req/s`,
      `${(f.stats.rps / f.bareGetRps).toFixed(2)}× bare`,
      '≥ 0.40× bare',
    ],
    ['  latency p50 / p99', `${f.stats.p50} / ${f.stats.p99} ms`, '', 'p99 ≤ 5 ms'],
    [
      `365-day range, ${fmt(f.rangeQueryMs.ledgerRows)} ledger rows`,
      `${fmt(f.rangeQueryMs.cold, 1)} ms (first)`,
      `cached ${fmt(f.rangeQueryMs.cachedMedian, 1)} ms`,
      '≤ 50 ms',
    ],
    ['server peak RSS', `${fmt(f.serverPeakRssMb)} MB`, f.serverPeakRssPhase ?? '', '≤ 256 MB'],
    [
      'Redis memory start → after drain',
      `${fmt(f.redisMemoryMb.start, 1)} → ${fmt(f.redisMemoryMb.afterDrain, 1)} MB`,
      '',
      'back near start',
    ],
    ['tracker IIFE gzipped', f.trackerGzipBytes === null ? 'not built' : `${f.trackerGzipBytes} B`, '', '≤ 2,048 B'],
    [
      'enrichment, API side, per event',
      `${fmt(f.enrichmentMicros.singleEvent, 1)} µs (1 a request)`,
      `${fmt(f.enrichmentMicros.batchEvent, 1)} µs (20 a request)`,
      'User-Agents cached',
    ],
    ['  a new User-Agent, parsed once', `${fmt(f.enrichmentMicros.uaMiss, 1)} µs`, '', '5,000 kept'],
    ['  with a MaxMind database', `${fmt(f.enrichmentMicros.geoEvent, 1)} µs (1 a request)`, '', ''],
    ['events accepted / stored / lost', `${fmt(f.accepted)} / ${fmt(f.stored)} / ${fmt(f.lost)}`, '', 'lost = 0'],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), 8));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(
    `\nTally bench${isQuick ? ' (--quick: smoke run, figures not meaningful)' : ''} — ${new Date().toISOString()}`,
  );
  console.log(line(['figure', 'measured', 'ratio', 'target']));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
