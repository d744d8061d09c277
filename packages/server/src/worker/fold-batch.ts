/**
 * Folds a batch of events into PostgreSQL with an exactly-once effect (SPEC §3):
 * one statement inserts the raw events and aggregates only the rows that this
 * very statement inserted, so a redelivered job, a retried job or a client's
 * resend never counts twice. Every upsert walks its keys in sorted order, so
 * concurrent workers queue behind each other instead of deadlocking. Tables
 * are named by their drizzle definitions, so a renamed table fails the build.
 */

import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import {
  rawEvents,
  siteDailyAggregates,
  siteDailyEventCounts,
  siteDailyEventVisitors,
  siteDailyPathCounts,
  siteDailyUniqueUsers,
} from '../db/schema/index.js';
import type { FoldResult, QueuedEvent } from '../queue/types.js';

export async function foldBatch(db: Database, events: readonly QueuedEvent[]): Promise<FoldResult> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 };
  const [row] = await queryRows<{ inserted: number }>(
    db,
    sql`
    WITH input AS (
      -- The batch travels as one JSON parameter: PostgreSQL parses it faster than Node
      -- can escape ten arrays, and it is one value on the wire whatever the batch size.
      SELECT e."eventId" AS event_id, e."siteId" AS site_id, e."eventType" AS event_type, e.path,
             e."userId" AS user_id, e."visitorId" AS visitor_id, e.timestamp AS event_ts,
             to_timestamp(e."receivedAt" / 1000.0) AS ingestion_ts, e.referrer, e.props::jsonb AS props
      FROM json_to_recordset(${JSON.stringify(events)}::json) AS e(
        "eventId" uuid, "siteId" text, "eventType" text, path text, "userId" text, "visitorId" text,
        timestamp timestamptz, "receivedAt" float8, referrer text, props json
      )
    ),
    inserted AS (
      INSERT INTO ${rawEvents} (event_id, site_id, event_type, path, user_id, visitor_id, event_ts, ingestion_ts, referrer, props)
      SELECT event_id, site_id, event_type, path, user_id, visitor_id, event_ts, ingestion_ts, referrer, props
      FROM input ORDER BY event_id
      ON CONFLICT (event_id) DO NOTHING
      RETURNING site_id, event_date, event_type, path, user_id, visitor_id
    ),
    new_visitors AS (
      INSERT INTO ${siteDailyUniqueUsers} (site_id, date, user_id, visitor_id)
      SELECT site_id, event_date, max(user_id), visitor_id FROM inserted
      GROUP BY site_id, event_date, visitor_id ORDER BY site_id, event_date, visitor_id
      ON CONFLICT ON CONSTRAINT unq_site_date_visitor DO NOTHING
      RETURNING site_id, date
    ),
    new_visitors_per_day AS (
      SELECT site_id, date, count(*) AS visitors FROM new_visitors GROUP BY site_id, date
    ),
    events_per_day AS (
      SELECT site_id, event_date AS date, count(*) AS views FROM inserted GROUP BY site_id, event_date
    ),
    daily_totals AS (
      INSERT INTO ${siteDailyAggregates} AS a (site_id, date, total_views, unique_users)
      SELECT d.site_id, d.date, d.views, coalesce(v.visitors, 0)
      FROM events_per_day d LEFT JOIN new_visitors_per_day v USING (site_id, date)
      ORDER BY d.site_id, d.date
      ON CONFLICT (site_id, date) DO UPDATE
        SET total_views = a.total_views + excluded.total_views,
            unique_users = a.unique_users + excluded.unique_users
    ),
    path_views AS (
      INSERT INTO ${siteDailyPathCounts} AS p (site_id, date, path, views)
      SELECT site_id, event_date, path, count(*) FROM inserted
      GROUP BY site_id, event_date, path ORDER BY site_id, event_date, path
      ON CONFLICT (site_id, date, path) DO UPDATE SET views = p.views + excluded.views
    ),
    event_type_counts AS (
      INSERT INTO ${siteDailyEventCounts} AS t (site_id, date, event_type, path, events)
      SELECT site_id, event_date, event_type, path, count(*) FROM inserted
      GROUP BY site_id, event_date, event_type, path ORDER BY site_id, event_date, event_type, path
      ON CONFLICT (site_id, date, event_type, path) DO UPDATE SET events = t.events + excluded.events
    ),
    event_type_visitors AS (
      INSERT INTO ${siteDailyEventVisitors} (site_id, date, event_type, visitor_id)
      SELECT DISTINCT site_id, event_date, event_type, visitor_id FROM inserted
      ORDER BY site_id, event_date, event_type, visitor_id
      ON CONFLICT DO NOTHING
    )
    SELECT count(*)::int AS inserted FROM inserted
  `,
  );
  const inserted = Number(row?.inserted ?? 0);
  return { inserted, duplicates: events.length - inserted };
}
