/**
 * Re-folding a site after its time zone changed (SPEC §9). `PUT /api/sites`
 * only records the new zone; this loop (in every worker process, polling every
 * few seconds, and kicked at once by the API of the same process) finds sites
 * whose `rollups_time_zone` differs from `time_zone` and, in one transaction
 * under the site's lock (so no fold of the site interleaves):
 * - deletes the site's daily rows from the first local day that its raw events
 *   still cover, and its visits from the first raw event on;
 * - folds every raw event of the site again in the new zone (the fold's own
 *   statements, so the rules cannot drift), visits included;
 * - records the new zone as the one the figures are in.
 * Days before the oldest raw event (deleted by `RAW_RETENTION_DAYS`) keep the
 * figures of the zone they were folded in. Running it twice changes nothing.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Database, queryRows } from '../db/client.js';
import { foldNewEvents, lockSites, useFoldSettings } from './fold-batch.js';
import { startPeriodic } from './periodic.js';
import type { VisitRules } from './visits.js';

const DAILY_TABLES = [
  'site_daily_aggregates',
  'site_daily_path_counts',
  'site_daily_event_counts',
  'site_daily_event_visitors',
  'site_daily_unique_users',
  'site_daily_rollups',
  'site_daily_pair_rollups',
  // Rebuilt rows have no sketches yet: the days are sealed again.
  'site_day_seals',
] as const;

/** Re-folds `siteId` if its time zone changed; answers whether it did. */
export async function refoldSite(db: Database, siteId: string, rules: VisitRules): Promise<boolean> {
  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    await lockSites(tx, sql`SELECT ${siteId}::text AS site_id`);
    const [site] = await queryRows<{
      time_zone: string;
      rollups_time_zone: string;
      first_ts: string | null;
      first_day: string | null;
    }>(
      tx,
      sql`SELECT s.time_zone, s.rollups_time_zone, r.first_ts::text AS first_ts,
                 -- The first day in either zone: the old zone's row of that instant goes too.
                 least((r.first_ts AT TIME ZONE s.time_zone)::date,
                       (r.first_ts AT TIME ZONE s.rollups_time_zone)::date)::text AS first_day
          FROM sites s, LATERAL (SELECT min(event_ts) AS first_ts FROM raw_events WHERE site_id = s.site_id) r
          WHERE s.site_id = ${siteId}`,
    );
    if (!site || site.time_zone === site.rollups_time_zone) return false;
    if (site.first_ts !== null && site.first_day !== null) {
      for (const table of DAILY_TABLES) {
        await tx.execute(
          sql`DELETE FROM ${sql.identifier(table)} WHERE site_id = ${siteId} AND date >= ${site.first_day}::date`,
        );
      }
      // Sealed weeks and months (`query/periods.ts`) were merged from the old days: the sealing loop seals them again.
      await tx.execute(sql`DELETE FROM site_weekly_rollups WHERE site_id = ${siteId}`);
      await tx.execute(sql`DELETE FROM site_monthly_rollups WHERE site_id = ${siteId}`);
      await tx.execute(sql`DELETE FROM site_monthly_pair_rollups WHERE site_id = ${siteId}`);
      await tx.execute(sql`DELETE FROM visits WHERE site_id = ${siteId} AND ended_at >= ${site.first_ts}::timestamptz`);
      const everyRawEvent = sql`r.site_id = ${siteId}`;
      await useFoldSettings(tx, { batch: false });
      await foldNewEvents(tx, everyRawEvent, rules);
    }
    await tx.execute(sql`UPDATE sites SET rollups_time_zone = time_zone WHERE site_id = ${siteId}`);
    return true;
  });
}

export interface RefoldLoop {
  /** Looks for pending re-folds now. */
  kick(): void;
  stop(): Promise<void>;
}

export function startRefolds({
  db,
  rules,
  logger,
  intervalMs = 5_000,
  onRefolded,
}: {
  db: Database;
  rules: VisitRules;
  logger: Logger;
  intervalMs?: number;
  onRefolded?: (siteId: string) => void;
}): RefoldLoop {
  const run = async () => {
    try {
      const pending = await queryRows<{ site_id: string }>(
        db,
        sql`SELECT site_id FROM sites WHERE time_zone <> rollups_time_zone ORDER BY site_id`,
      );
      for (const { site_id: siteId } of pending) {
        const started = Date.now();
        if (await refoldSite(db, siteId, rules)) {
          logger.info({ siteId, ms: Date.now() - started }, 'site re-folded in its new time zone');
          onRefolded?.(siteId);
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 're-fold failed; retrying at the next interval');
    }
  };
  return startPeriodic(run, intervalMs);
}
