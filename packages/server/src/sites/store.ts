/**
 * Sites in PostgreSQL (SPEC §9): read, create or change, delete with all
 * their data. A change of time zone only records the new zone; the re-fold
 * (`worker/refold.ts`) rebuilds the daily figures in the background.
 */
import type { Site, SiteSettings } from '@tally/shared';
import { type SQL, sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { lockSites } from '../worker/fold-batch.js';

interface SiteRow {
  site_id: string;
  time_zone: string;
  public: boolean;
  allowed_hostnames: string[] | null;
  created_at: string | Date;
  first_day: string | null;
  last_day: string | null;
  events: string | number | null;
}

const toSite = (row: SiteRow): Site => ({
  siteId: row.site_id,
  timeZone: row.time_zone,
  public: row.public,
  allowedHostnames: row.allowed_hostnames,
  createdAt: new Date(row.created_at).toISOString(),
  firstDay: row.first_day,
  lastDay: row.last_day,
  events: Number(row.events ?? 0),
});

function selectSites(where: SQL): SQL {
  return sql`
    SELECT s.site_id, s.time_zone, s.public, s.allowed_hostnames, s.created_at,
           a.first_day::text AS first_day, a.last_day::text AS last_day, coalesce(a.events, 0) AS events
    FROM sites s
    LEFT JOIN LATERAL (
      SELECT min(date) AS first_day, max(date) AS last_day, sum(total_views) AS events
      FROM site_daily_aggregates WHERE site_id = s.site_id
    ) a ON true
    WHERE ${where}
    ORDER BY s.site_id COLLATE "C"`;
}

export async function listSites(db: Database): Promise<Site[]> {
  return (await queryRows<SiteRow>(db, selectSites(sql`true`))).map(toSite);
}

export async function getSite(db: Database, siteId: string): Promise<Site | undefined> {
  const [row] = await queryRows<SiteRow>(db, selectSites(sql`s.site_id = ${siteId}`));
  return row ? toSite(row) : undefined;
}

/** Creates the site or changes the settings given; answers whether it was created. */
export async function putSite(db: Database, siteId: string, settings: SiteSettings): Promise<boolean> {
  const hosts = settings.allowedHostnames === undefined ? undefined : settings.allowedHostnames;
  const [row] = await queryRows<{ created: boolean }>(
    db,
    sql`
    INSERT INTO sites AS s (site_id, time_zone, public, allowed_hostnames, rollups_time_zone)
    VALUES (${siteId}, ${settings.timeZone ?? 'UTC'}, ${settings.public ?? false},
            ${
              hosts === undefined || hosts === null
                ? null
                : sql`ARRAY[${sql.join(
                    hosts.map((host) => sql`${host}`),
                    sql`, `,
                  )}]::text[]`
            },
            ${settings.timeZone ?? 'UTC'})
    ON CONFLICT (site_id) DO UPDATE SET
      time_zone = ${settings.timeZone === undefined ? sql`s.time_zone` : sql`excluded.time_zone`},
      public = ${settings.public === undefined ? sql`s.public` : sql`excluded.public`},
      allowed_hostnames = ${hosts === undefined ? sql`s.allowed_hostnames` : sql`excluded.allowed_hostnames`}
    RETURNING (xmax = 0) AS created`,
  );
  return row?.created === true;
}

/** Tables holding a site's data, every one of which `deleteSite` empties. */
const SITE_TABLES = [
  'raw_events',
  'visits',
  'site_daily_rollups',
  'site_weekly_rollups',
  'site_monthly_rollups',
  'site_daily_pair_rollups',
  'site_monthly_pair_rollups',
  'site_daily_aggregates',
  'site_daily_path_counts',
  'site_daily_event_counts',
  'site_daily_event_visitors',
  'site_daily_unique_users',
  'site_day_seals',
  'sites',
] as const;

/** Deletes the site and all its data; answers whether it existed. Waits for folds of the site under way. */
export async function deleteSite(db: Database, siteId: string): Promise<boolean> {
  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    await lockSites(tx, sql`SELECT ${siteId}::text AS site_id`);
    let found = false;
    for (const table of SITE_TABLES) {
      const rows = await queryRows<{ n: number }>(
        tx,
        sql`WITH gone AS (DELETE FROM ${sql.identifier(table)} WHERE site_id = ${siteId} RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      );
      if ((rows[0]?.n ?? 0) > 0) found = true;
    }
    return found;
  });
}
