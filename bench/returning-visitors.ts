/**
 * What a fold costs when its visitors come back often, for work on the visit probe:
 *
 *   HISTORY=1000 PER=1 node --import tsx bench/returning-visitors.ts
 *
 * Makes a scratch database (dropped at the end), gives 50 visitors `HISTORY` visits each (one
 * event an hour), then folds 40 batches in which each visitor extends its latest visit by `PER`
 * events (1: the simple case; 2 or more: the general one), and prints the time a batch takes.
 * It should not grow with `HISTORY`: a fold reads the visits near its events, not a visitor's
 * history. Wall time on one connection, so compare runs made one after the other.
 */
import pg from 'pg';
import { connectPostgres } from '../packages/server/src/db/client.js';
import { migratePostgres } from '../packages/server/src/db/migrate.js';
import type { QueuedEvent } from '../packages/server/src/queue/types.js';
import { foldBatch } from '../packages/server/src/worker/fold-batch.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const history = Number(process.env.HISTORY ?? 1_000);
const perVisitor = Number(process.env.PER ?? 1);
const HOUR = 3_600_000;
const START = Date.parse('2026-01-01T00:00:00Z');

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const name = `tally_returning_${Date.now().toString(36)}`;
await admin.query(`CREATE DATABASE ${name}`);
const scratch = new URL(url);
scratch.pathname = `/${name}`;
try {
  await migratePostgres(scratch.toString());
  const handle = connectPostgres(scratch.toString(), 2);
  let n = 0;
  const event = (at: number, visitorId: string): QueuedEvent => {
    n += 1;
    return {
      eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      siteId: 'returning',
      eventType: 'page_view',
      path: '/',
      timestamp: new Date(at).toISOString(),
      receivedAt: at + 1_000,
      visitorId,
    };
  };
  const visitors = Array.from({ length: 50 }, (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
  const whole = { partitionMinEvents: Number.POSITIVE_INFINITY };
  for (let from = 0; from < history; from += 100) {
    const batch = visitors.flatMap((visitor) =>
      Array.from({ length: Math.min(100, history - from) }, (_, k) => event(START + (from + k) * HOUR, visitor)),
    );
    await foldBatch(handle.db, batch, undefined, whole);
  }
  const latest = START + (history - 1) * HOUR;
  const started = performance.now();
  for (let round = 1; round <= 40; round++) {
    const batch = visitors.flatMap((visitor) =>
      Array.from({ length: perVisitor }, (_, k) => event(latest + round * 10_000 + k, visitor)),
    );
    await foldBatch(handle.db, batch, undefined, whole);
  }
  const ms = (performance.now() - started) / 40;
  await handle.close();
  console.log(JSON.stringify({ history, perVisitor, eventsABatch: 50 * perVisitor, msABatch: Number(ms.toFixed(1)) }));
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
