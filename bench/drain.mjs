/**
 * Drain-only runs for work on the fold, A/B: `node bench/drain.mjs [rounds] [backlog] [main.js …]`.
 * For each round and each server build given (default: this checkout's
 * `packages/server/dist/main.js`, `ROLE=all`), queues `backlog` events with
 * the worker paused, then times the drain, and reports the machine's CPU
 * (`/proc/stat`: busy, idle, steal), the folding process's peak resident memory,
 * and the CPU time each kind of process spent per event (PostgreSQL, the server, Redis, the rest) read from `/proc`.
 * Builds take turns round by round, as this machine's speed drifts by tens of
 * percent within minutes. Every server runs with `scripts/server-flags.mjs`. `SPLIT=1` runs the worker as its own process
 * (`ROLE=worker`, with `SERVER_FLAGS`, e.g. `--cpu-prof`); `UNIX=1` connects
 * to PostgreSQL over its Unix socket. Each build gets its own database and
 * queue prefix, dropped at the end.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { SERVER_NODE_FLAGS } from '../scripts/server-flags.mjs';
import { rssMb, stopChildren } from './proc.mjs';
import { deletePrefixedKeys } from './queue-keys.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const backlog = Number(process.argv[3] ?? 100000);
const mains = process.argv.slice(4).length ? process.argv.slice(4) : [join(root, 'packages/server/dist/main.js')];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const today = new Date().toISOString().slice(0, 10);

function procStat() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}
function procs() {
  const out = { pg: 0, server: 0, redis: 0, other: 0 };
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = Number(f[11]) + Number(f[12]);
      // A backend that exits mid-drain (a pool closing an idle client) takes its time out of the sum: the
      // postmaster's children's time (cutime, cstime) holds it from then on.
      if (cmd.includes('postgres')) out.pg += t + Number(f[13]) + Number(f[14]);
      else if (cmd.includes('redis-server')) out.redis += t;
      else if (cmd.includes('main.js')) out.server += t;
      else out.other += t;
    } catch {}
  }
  return out;
}
function runLoad(options) {
  const child = spawn(process.execPath, [join(root, 'bench/load.mjs'), JSON.stringify({ date: today, ...options })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  return new Promise((resolve) => child.on('exit', () => resolve(stdout)));
}

const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
const results = [];
for (const [k, main] of mains.entries()) {
  const name = `tally_drain_${Date.now().toString(36)}_${k}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url =
    process.env.UNIX === '1'
      ? `postgres://postgres@%2Fvar%2Frun%2Fpostgresql/${name}`
      : `postgres://postgres@127.0.0.1:5432/${name}`;
  const prefix = `{${name}}`;
  const port = 3800 + k;
  const env = {
    ...process.env,
    DATABASE_URL: url,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  const split = process.env.SPLIT === '1';
  const server = spawn(process.execPath, [...SERVER_NODE_FLAGS, main], {
    env: { ...env, PORT: String(port), ROLE: split ? 'api' : 'all' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const worker = split
    ? spawn(
        process.execPath,
        [...SERVER_NODE_FLAGS, ...(process.env.SERVER_FLAGS ?? '').split(' ').filter(Boolean), main],
        {
          env: { ...env, PORT: String(port + 100), ROLE: 'worker' },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      )
    : undefined;
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const queue = new Queue('analytics-events', { connection: redis, prefix });
  const db = new pg.Client({ connectionString: url });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {}
    if (i > 600) throw new Error(`${main} did not become ready`);
    await sleep(100);
  }
  await db.connect();
  results.push({ main, server, worker, redis, queue, db, name, port, rates: [] });
}
const backlogOf = async (queue) =>
  Object.values(await queue.getJobCounts('wait', 'paused', 'active', 'delayed', 'prioritized')).reduce(
    (a, b) => a + b,
    0,
  );
const stored = async (db) => Number((await db.query('select count(*) from raw_events')).rows[0].count);
for (let round = 0; round < rounds; round++) {
  for (const r of results) {
    await r.queue.pause();
    await runLoad({
      mode: 'batch',
      url: `http://127.0.0.1:${r.port}/api/events`,
      connections: 32,
      amount: Math.ceil(backlog / 20),
    });
    const before = await stored(r.db);
    const s0 = procStat();
    const p0 = procs();
    const t0 = performance.now();
    await r.queue.resume();
    let peakRss = 0;
    while ((await backlogOf(r.queue)) > 0) {
      peakRss = Math.max(peakRss, rssMb(r.worker?.pid ?? r.server.pid));
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const s1 = procStat();
    const p1 = procs();
    const n = (await stored(r.db)) - before;
    const total = s1.busy - s0.busy + (s1.idle - s0.idle) + (s1.steal - s0.steal);
    const pct = (x) => (((100 * x) / total) * 2).toFixed(0);
    const per = (x) => ((x / 100 / n) * 1e6).toFixed(1);
    r.rates.push(n / seconds);
    console.log(
      `${r.main.split('/').slice(-4).join('/')} round ${round}: ${Math.round(n / seconds)} ev/s (${n} in ${seconds.toFixed(1)} s) machine busy ${pct(s1.busy - s0.busy)}% idle ${pct(s1.idle - s0.idle)}% steal ${pct(s1.steal - s0.steal)}% | peak RSS ${Math.round(peakRss)} MB | µs/event pg ${per(p1.pg - p0.pg)} server ${per(p1.server - p0.server)} redis ${per(p1.redis - p0.redis)} other ${per(p1.other - p0.other)}`,
    );
  }
}
for (const r of results) {
  console.log(
    r.main,
    'mean',
    Math.round(r.rates.reduce((a, b) => a + b) / r.rates.length),
    r.rates.map(Math.round).join(' '),
  );
}
// Servers first, so that none writes under its prefix after the prefix's keys are gone.
await stopChildren(results.flatMap((r) => (r.worker ? [r.server, r.worker] : [r.server])));
for (const r of results) {
  await deletePrefixedKeys(r.redis, `{${r.name}}`).catch(() => {});
  await r.queue.close();
  r.redis.disconnect();
  await r.db.end();
}
await sleep(1000);
for (const r of results) await admin.query(`DROP DATABASE IF EXISTS ${r.name} WITH (FORCE)`);
await admin.end();
process.exit(0);
