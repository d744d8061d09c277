/**
 * `RAW_RETENTION_DAYS`: raw events whose UTC day is more than N days back are
 * deleted; the daily aggregates they were folded into stay. Runs on a timer in
 * every worker process (embedded default included), and a PostgreSQL advisory
 * lock makes sure only one of them deletes at a time. Deletes go in slices so
 * no transaction holds many rows; a run is skipped when the cutoff day has not
 * moved since this process's last complete run, so the table is scanned about
 * once a day.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Database, queryRows } from '../db/client.js';
import { startPeriodic } from './periodic.js';

const RETENTION_LOCK = 7_271_012; // any constant shared by every Tally process, distinct from the migration lock
const SLICE = 5_000;
const DAY_MS = 86_400_000;

/** The first UTC day kept: events of earlier days are deleted. */
export function retentionCutoff(days: number, now = Date.now()): string {
  return new Date(now - days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Deletes raw events of days before `cutoff`; returns how many, or `undefined`
 * when another process holds the lock (it is doing the same work).
 */
export async function deleteExpiredRawEvents(db: Database, cutoff: string): Promise<number | undefined> {
  let deleted = 0;
  for (;;) {
    const result = await db.transaction(async (tx) => {
      const [lock] = await queryRows<{ locked: boolean }>(
        tx as unknown as Database,
        sql`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK}) AS locked`,
      );
      if (!lock?.locked) return undefined;
      const rows = await queryRows<{ n: number }>(
        tx as unknown as Database,
        sql`WITH expired AS (
              DELETE FROM raw_events
              WHERE event_id IN (SELECT event_id FROM raw_events WHERE event_date < ${cutoff}::date LIMIT ${SLICE})
              RETURNING 1
            )
            SELECT count(*)::int AS n FROM expired`,
      );
      return rows[0]?.n ?? 0;
    });
    if (result === undefined) return deleted === 0 ? undefined : deleted;
    deleted += result;
    if (result < SLICE) return deleted;
  }
}

export interface RetentionOptions {
  db: Database;
  days: number;
  logger: Logger;
  intervalMs?: number;
}

/** Starts the timer (first run right away); `stop()` waits for a run under way. */
export function startRetention({ db, days, logger, intervalMs = 3_600_000 }: RetentionOptions) {
  let lastCutoff: string | undefined;
  const run = async () => {
    const cutoff = retentionCutoff(days);
    if (cutoff === lastCutoff) return;
    try {
      const deleted = await deleteExpiredRawEvents(db, cutoff);
      if (deleted === undefined) return; // another process has it; look again next time
      lastCutoff = cutoff;
      logger.info({ deleted, before: cutoff, days }, 'raw event retention: expired raw events deleted');
    } catch (error) {
      logger.warn({ err: error }, 'raw event retention run failed; retrying at the next interval');
    }
  };
  return startPeriodic(run, intervalMs);
}
