/**
 * What one fold costs PostgreSQL, repeatably, for work on the fold's SQL:
 *
 *   node --import tsx bench/fold-cost.ts '{"url":"postgres://…/postgres","template":"tally_fold_tpl","batches":3}'
 *
 * Copies `template` (made on first use: migrated, then `warm` batches folded)
 * into a scratch database, folds `batches` batches of `batch` (5,000) bench-like events
 * (the same events every run: ids and visitors are seeded) on one connection,
 * and prints that backend's CPU time per event, read from `/proc`. The CPU
 * time moves by tens of percent with the machine's load; instruction counts do
 * not. Run a PostgreSQL under callgrind and point `url` at it:
 *
 *   su postgres -c 'initdb -D /tmp/pgv/data --auth=trust'
 *   su postgres -c 'valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/tmp/cg/cg.%p \
 *     postgres -D /tmp/pgv/data -p 5499 -k /tmp -c autovacuum=off &'
 *
 * and add `"callgrind":"/tmp/cg"`: the measured connection then closes, and its backend's
 * profile (written as it exits) gives the instructions per event, the same to a
 * few in 100,000 run after run. Fewer instructions need not take less time: confirm a gain by
 * CPU time, best by PostgreSQL's own account of each statement (`log_executor_stats`, as
 * docs/scaling.md describes), over interleaved runs of both builds. The scratch database is
 * dropped; the template is kept.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { connectPostgres } from '../packages/server/src/db/client.js';
import { migratePostgres } from '../packages/server/src/db/migrate.js';
import type { QueuedEvent } from '../packages/server/src/queue/types.js';
import { foldBatch } from '../packages/server/src/worker/fold-batch.js';

const options = {
  template: 'tally_fold_tpl',
  batches: 3,
  warm: 8,
  seed: 2,
  batch: 5_000,
  ...(JSON.parse(process.argv[2] ?? '{}') as {
    url: string;
    template?: string;
    batches?: number;
    warm?: number;
    seed?: number;
    batch?: number;
    callgrind?: string;
  }),
};
/** The template's warm-up batches: the same whatever `batch` a run measures, so one template serves every run. */
const WARM_BATCH = 5_000;
const VISITORS = 10_000;
const database = (name: string) => {
  const url = new URL(options.url);
  url.pathname = `/${name}`;
  return url.toString();
};

/** Events as the bench's load sends them, enriched as a desktop Chrome's: one site, 200 paths, 10,000 visitors. */
function events(seed: number, count: number): QueuedEvent[] {
  const date = new Date().toISOString().slice(0, 10);
  return Array.from({ length: count }, (_, i) => {
    const n = seed * 10_000_000 + i;
    return {
      eventId: `${(Math.imul(n, 2654435761) >>> 0).toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      siteId: 'bench',
      eventType: n % 10 === 0 ? 'click' : 'page_view',
      path: `/page/${n % 200}`,
      timestamp: `${date}T12:00:00.000Z`,
      receivedAt: Date.now(),
      visitorId: `00000000-0000-4000-8000-${((n * 7919) % VISITORS).toString(16).padStart(12, '0')}`,
      device: 'desktop',
      browser: 'Chrome',
      browserVersion: '131',
      os: 'Linux',
      channel: 'Direct',
      language: 'en-US',
    };
  });
}

async function fold(url: string, batches: number, seed: number) {
  const handle = connectPostgres(url, 1);
  for (let i = 0; i < batches; i++) {
    await foldBatch(handle.db, events(seed * 1_000 + i, WARM_BATCH), undefined, { partitionMinEvents: Infinity });
  }
  return handle;
}

const cpuTicks = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

const admin = new pg.Client({ connectionString: options.url });
await admin.connect();
const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.template]);
if (exists.rowCount === 0) {
  await admin.query(`CREATE DATABASE ${options.template}`);
  await migratePostgres(database(options.template));
  await (await fold(database(options.template), options.warm, 1)).close();
}
const scratch = `tally_fold_${Date.now().toString(36)}`;
await admin.query(`CREATE DATABASE ${scratch} TEMPLATE ${options.template}`);
try {
  const handle = connectPostgres(database(scratch), 1);
  const { rows } = await handle.db.execute<{ pid: number }>('SELECT pg_backend_pid() AS pid' as never);
  const pid = Number(rows[0]?.pid);
  const before = cpuTicks(pid);
  for (let i = 0; i < options.batches; i++) {
    await foldBatch(handle.db, events(options.seed * 1_000 + i, options.batch), undefined, {
      partitionMinEvents: Infinity,
    });
  }
  const folded = options.batches * options.batch;
  const line: Record<string, string> = {
    events: String(folded),
    'PostgreSQL CPU µs/event': (((cpuTicks(pid) - before) * 10_000) / folded).toFixed(1),
  };
  await handle.close();
  if (options.callgrind) {
    await sleep(3_000);
    const profile = readFileSync(`${options.callgrind}/cg.${pid}`, 'utf8');
    const total = Number(/^(?:summary|totals): (\d+)/m.exec(profile)?.[1]);
    // The connection's start and its statements' first planning are in the count: a few thousand an event.
    line['PostgreSQL instructions/event'] = Math.round(total / folded).toLocaleString('en-US');
  }
  console.log(JSON.stringify(line));
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${scratch}`);
  await admin.end();
}
