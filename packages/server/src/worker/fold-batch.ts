/**
 * Folds a batch of events into PostgreSQL with an exactly-once effect (SPEC §3):
 * one statement inserts the raw events and aggregates only the rows that this
 * very statement inserted, so a redelivered job, a retried job or a client's
 * resend never counts twice. Tables are named by their drizzle definitions, so
 * a renamed table fails the build.
 *
 * A large batch is cut by visitor into `FOLD_PARTITIONS` parts folded side by
 * side, each in its own transaction: a visitor's events and visits are only
 * ever touched by the part that owns the visitor, so the parts need not wait
 * for each other until the shared counters at the very end. Each part, one
 * transaction, three steps (SPEC §9, §11):
 * 1. insert the sites (first event creates the row) and the raw events; only
 *    the ids this statement inserted go on;
 * 2. lock the sites of those events, shared, then each (site, visitor part)
 *    the events fall in, exclusive (advisory locks, in sorted order): folds of
 *    one site's same visitors take turns from here, other parts go on, and a
 *    time-zone re-fold or a site delete (`lockSites`, exclusive) waits for
 *    every fold of the site and holds them off, so days never mix two time
 *    zones;
 * 3. fold the inserted events into the daily tables by site-local day
 *    (`event_ts AT TIME ZONE sites.time_zone`), recompute the visits they
 *    touch (`visits.ts`), and add their visitors to the day's ledgers unless
 *    their stored visit shows them there already (`ledger` in `visits.ts`).
 * Step 3 computes everything and writes the rows keyed by visitor before it
 * writes a shared counter row (its final insert sorts its input first and reads
 * `own_rows`; the other counters are written after it), and writes those rows
 * in sorted key order, so two parts meet only there, the second waiting for the
 * first to commit, and never deadlock; the site and
 * part locks are taken in sorted order and the raw inserts in `event_id` order.
 * Rows keyed by visitor (a day's visitors, visits) are written unsorted: only
 * the transaction holding that visitor's part lock ever writes them.
 */

import { type SQL, sql } from 'drizzle-orm';
import { type Database, queryPrepared } from '../db/client.js';
import {
  rawEvents,
  siteDailyAggregates,
  siteDailyEventCounts,
  siteDailyEventVisitors,
  siteDailyPathCounts,
  siteDailyRollups,
  siteDailyUniqueUsers,
  sites,
} from '../db/schema/index.js';
import type { FoldResult, QueuedEvent } from '../queue/types.js';
import { DEFAULT_VISIT_RULES, type VisitRules, visitCtes } from './visits.js';

/** Parts a large batch is cut into by visitor, folded side by side (about one per core PostgreSQL has). */
const FOLD_PARTITIONS = 2;
/** Below this many events the fixed cost of a transaction outweighs what a second part saves. */
const PARTITION_MIN_EVENTS = 1_000;

/** The advisory lock key of a site: re-folds and deletes take it exclusive, folds and seals shared. */
export const siteLockKey = (siteId: SQL) => sql`hashtextextended('tally:site:' || ${siteId}, 0)`;

/**
 * Takes the lock of every site `siteIds` selects (a query of one `site_id` column), in sorted order:
 * exclusive (re-folds, deletes), or shared (day seals, which then run beside the folds).
 */
export async function lockSites(
  tx: Database,
  siteIds: SQL,
  { shared = false }: { shared?: boolean } = {},
): Promise<void> {
  const lock = shared ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
  await tx.execute(
    sql`SELECT ${lock}(${siteLockKey(sql`s.site_id`)}) FROM (SELECT DISTINCT site_id FROM (${siteIds}) i ORDER BY site_id) s`,
  );
}

/** The part of the visitors a visitor falls in: FNV-1a of the id, the same in every worker process. */
function visitorPartition(visitorId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < visitorId.length; i++) hash = Math.imul(hash ^ visitorId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % FOLD_PARTITIONS;
}

/**
 * A job's events as its fold sends them, made when the job arrives (`encodeEvents`): per visitor part,
 * one piece of array literal per raw column. The worker then lets go of the job's event objects, which
 * would otherwise live until the fold commits, long enough to be promoted into V8's old space; a fold
 * joins its jobs' pieces.
 */
export interface EncodedEvents {
  /** The job's events. */
  size: number;
  /** One per visitor part (`visitorPartition`). */
  parts: EncodedPart[];
  /** What the metrics and the answer caches learn of a fold: its sites, and when each event arrived. */
  folded: FoldedEvents;
}

export interface FoldedEvents {
  sites: ReadonlySet<string>;
  receivedAt: readonly number[];
}

/** Some events of a job or a fold, and the (site, visitor part) locks their fold takes. */
interface EncodedPart {
  count: number;
  /** Per `RAW_COLUMNS` entry, the values as `"a",NULL,"b"`, or `null` when no event has one. */
  columns: (string | null)[];
  locks: Map<string, { site: string; part: number }>;
}

export function encodeEvents(events: readonly QueuedEvent[]): EncodedEvents {
  const byPart = Array.from({ length: FOLD_PARTITIONS }, () => ({
    events: [] as QueuedEvent[],
    locks: new Map<string, { site: string; part: number }>(),
  }));
  const sites = new Set<string>();
  const receivedAt: number[] = [];
  for (const event of events) {
    const partition = visitorPartition(event.visitorId ?? '');
    const part = byPart[partition] as (typeof byPart)[number];
    part.events.push(event);
    part.locks.set(`${partition}:${event.siteId}`, { site: event.siteId, part: partition });
    sites.add(event.siteId);
    receivedAt.push(event.receivedAt);
  }
  return {
    size: events.length,
    parts: byPart.map(({ events: partEvents, locks }) => ({
      count: partEvents.length,
      locks,
      columns: RAW_COLUMNS.map(([, type, field]) =>
        partEvents.length === 0
          ? null
          : columnValues(partEvents, field, { keepEmpty: field === 'eventId', json: type === 'jsonb' }),
      ),
    })),
    folded: { sites, receivedAt },
  };
}

export function foldBatch(
  db: Database,
  events: readonly QueuedEvent[],
  rules: VisitRules = DEFAULT_VISIT_RULES,
  options: { partitionMinEvents?: number } = {},
): Promise<FoldResult> {
  return foldEncoded(db, [encodeEvents(events)], rules, options);
}

/** Folds the jobs `batches` encoded: by visitor part, side by side, once they hold `partitionMinEvents`. */
export async function foldEncoded(
  db: Database,
  batches: readonly EncodedEvents[],
  rules: VisitRules = DEFAULT_VISIT_RULES,
  { partitionMinEvents = PARTITION_MIN_EVENTS }: { partitionMinEvents?: number } = {},
): Promise<FoldResult> {
  let size = 0;
  for (const batch of batches) size += batch.size;
  if (size === 0) return { inserted: 0, duplicates: 0 };
  const groups: EncodedPart[][] =
    size < partitionMinEvents
      ? [batches.flatMap((batch) => batch.parts)]
      : Array.from({ length: FOLD_PARTITIONS }, (_, p) => batches.map((batch) => batch.parts[p] as EncodedPart));
  // Every part runs to its end before the first failure is thrown: a retry then finds settled parts.
  const settled = await Promise.allSettled(
    groups
      .map((group) => group.filter((part) => part.count > 0))
      .filter((group) => group.length > 0)
      .map((group) => foldPart(db, group, rules)),
  );
  const result = { inserted: 0, duplicates: 0 };
  for (const outcome of settled) {
    if (outcome.status === 'rejected') throw outcome.reason;
    result.inserted += outcome.value.inserted;
    result.duplicates += outcome.value.duplicates;
  }
  return result;
}

/** One part of a fold (its jobs' pieces of one visitor part, or of all), in one transaction: the three steps above. */
async function foldPart(db: Database, parts: readonly EncodedPart[], rules: VisitRules): Promise<FoldResult> {
  let count = 0;
  const locks = new Map<string, { site: string; part: number }>();
  for (const part of parts) {
    count += part.count;
    for (const [key, lock] of part.locks) locks.set(key, lock);
  }
  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    await useFoldSettings(tx);
    const { inserted, tids } = await insertRawEvents(tx, parts);
    if (inserted > 0) {
      // The rows' own addresses (nothing else writes them before this transaction ends), so reading them
      // back is a TID scan rather than an index probe each. An array, not JSON: PostgreSQL then plans
      // for this many rows rather than a default guess.
      await lockVisitorParts(tx, [...locks.values()]);
      await foldNewEvents(tx, sql`r.ctid = ANY(${tids}::tid[])`, rules);
    }
    return { inserted, duplicates: count - inserted };
  });
}

/**
 * The settings of a transaction that folds. A batch's visit recompute sorts a few thousand wide rows:
 * in memory rather than on disk (a site's whole re-fold keeps the server's `work_mem`, as one
 * statement may hold many such sorts). The fold's statements are prepared (parsed once per
 * connection, `queryPrepared`) but planned at every call, for this batch and the tables as they are
 * now: a plan kept from a fold into empty tables would scan them. Its reads are a few thousand rows by
 * address or index: priced as the cached pages they are, not PostgreSQL's default of a disk seek
 * each, which preferred scanning raw_events whole up to about 100,000 rows.
 */
export async function useFoldSettings(tx: Database, { batch = true }: { batch?: boolean } = {}): Promise<void> {
  await tx.execute(
    sql`SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('random_page_cost', '1.1', true),
               set_config('work_mem', ${batch ? '64MB' : sql`current_setting('work_mem')`}, true)`,
  );
}

/** Step 2: each site shared, then each (site, visitor part), exclusive; both in sorted order. */
async function lockVisitorParts(tx: Database, locks: { site: string; part: number }[]): Promise<void> {
  // Part −1 is the site's shared lock: every fold takes its sites' first, then its parts'.
  await tx.execute(sql`
    WITH k AS (SELECT * FROM json_to_recordset(${JSON.stringify(locks)}::json) AS i(site text, part int))
    SELECT CASE WHEN l.part < 0 THEN pg_advisory_xact_lock_shared(${siteLockKey(sql`l.site`)})
                ELSE pg_advisory_xact_lock(hashtextextended('tally:visitors:' || l.part || ':' || l.site, 0)) END
    FROM (
      SELECT * FROM (SELECT DISTINCT site, -1 AS part FROM k UNION ALL SELECT site, part FROM k) u
      ORDER BY u.part, u.site COLLATE "C"
    ) l`);
}

/**
 * The raw event columns in insert order: each with its PostgreSQL type and the
 * `QueuedEvent` field it is read from (`event_ts` and `ingestion_ts` are the
 * client's timestamp and `receivedAt`, converted in SQL).
 */
const RAW_COLUMNS = [
  ['event_id', 'uuid', 'eventId'],
  ['site_id', 'text', 'siteId'],
  ['event_type', 'text', 'eventType'],
  ['path', 'text', 'path'],
  ['user_id', 'text', 'userId'],
  ['visitor_id', 'text', 'visitorId'],
  ['event_ts', 'timestamptz', 'timestamp'],
  ['received_ms', 'float8', 'receivedAt'],
  ['referrer', 'text', 'referrer'],
  ['props', 'jsonb', 'props'],
  ['utm_source', 'text', 'utmSource'],
  ['utm_medium', 'text', 'utmMedium'],
  ['utm_campaign', 'text', 'utmCampaign'],
  ['utm_term', 'text', 'utmTerm'],
  ['utm_content', 'text', 'utmContent'],
  ['language', 'text', 'language'],
  ['screen_width', 'int', 'screenWidth'],
  ['source', 'text', 'source'],
  ['channel', 'text', 'channel'],
  ['referrer_domain', 'text', 'referrerDomain'],
  ['device', 'text', 'device'],
  ['browser', 'text', 'browser'],
  ['browser_version', 'text', 'browserVersion'],
  ['os', 'text', 'os'],
  ['os_version', 'text', 'osVersion'],
  ['country', 'text', 'country'],
  ['region', 'text', 'region'],
  ['city', 'text', 'city'],
] as const satisfies readonly (readonly [string, string, keyof QueuedEvent])[];

/** The input's column names, the raw_events columns they fill, and what fills each: derived once from `RAW_COLUMNS`. */
const INPUT_NAMES = RAW_COLUMNS.map(([column]) => column).join(', ');
const STORED_COLUMNS = RAW_COLUMNS.map(([column]) => (column === 'received_ms' ? 'ingestion_ts' : column)).join(', ');
const STORED_VALUES = RAW_COLUMNS.map(([column]) =>
  column === 'received_ms' ? 'to_timestamp(received_ms / 1000.0)' : column,
).join(', ');

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * One column of some events as the elements of a PostgreSQL array literal (`"a",NULL,"b"`), or `null`
 * when none has a value (unless `keepEmpty`). Every value is quoted, so only `"` and `\` need escaping;
 * a value that is not a string (a job someone else wrote), or one for a `json` column, travels as its
 * JSON text, and PostgreSQL refuses it if it does not fit the column's type, as it would any other bad
 * value (the fold then parks the event).
 */
export function columnValues(
  events: readonly QueuedEvent[],
  field: keyof QueuedEvent,
  { keepEmpty = false, json = false }: { keepEmpty?: boolean; json?: boolean } = {},
): string | null {
  const values = new Array<string>(events.length);
  let present = keepEmpty;
  for (let i = 0; i < events.length; i++) {
    const value: unknown = (events[i] as QueuedEvent)[field];
    if (value === undefined || value === null) {
      values[i] = 'NULL';
      continue;
    }
    present = true;
    const text = typeof value === 'string' && !json ? value : (JSON.stringify(value) ?? 'null');
    values[i] = NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPED, '\\$&')}"` : `"${text}"`;
  }
  return present ? values.join(',') : null;
}

/**
 * Column `c` of some parts as one array literal. A column none of their events has travels as NULL,
 * which unnest pads with NULLs unparsed; the ids always travel, so there is one row per event even in a
 * job whose events have no fields at all.
 */
function partsLiteral(parts: readonly EncodedPart[], c: number): string | null {
  if (parts.every((part) => part.columns[c] === null)) return null;
  return `{${parts.map((part) => part.columns[c] ?? nulls(part.count)).join(',')}}`;
}

const nulls = (count: number) => `${'NULL,'.repeat(count - 1)}NULL`;

/**
 * Step 1: the sites and the raw events; answers how many this statement inserted and their row addresses
 * (`ctid`), as one `tid[]` literal that goes back as it came: one value each way, not a row an event.
 */
async function insertRawEvents(
  tx: Database,
  parts: readonly EncodedPart[],
): Promise<{ inserted: number; tids: string | null }> {
  // The events travel as one array per column, unnested side by side: PostgreSQL reads arrays several
  // times faster than it takes apart JSON objects (json_to_recordset builds a hash table per event), and
  // it is one value per column on the wire whatever the batch size.
  const arrays = sql.join(
    RAW_COLUMNS.map(([, type], c) => sql`${partsLiteral(parts, c)}::${sql.raw(type)}[]`),
    sql`, `,
  );
  const [row] = await queryPrepared<{ inserted: number; tids: string | null }>(
    tx,
    sql`
    WITH input AS (SELECT * FROM unnest(${arrays}) AS e(${sql.raw(INPUT_NAMES)})),
    new_sites AS (
      INSERT INTO ${sites} (site_id)
      SELECT DISTINCT site_id COLLATE "C" FROM input ORDER BY 1
      ON CONFLICT (site_id) DO NOTHING
    ),
    inserted AS (
      INSERT INTO ${rawEvents} (${sql.raw(STORED_COLUMNS)})
      SELECT ${sql.raw(STORED_VALUES)} FROM input ORDER BY event_id
      ON CONFLICT (event_id) DO NOTHING
      RETURNING ctid
    )
    SELECT count(*)::int AS inserted, array_agg(ctid)::text AS tids FROM inserted`,
  );
  return { inserted: row?.inserted ?? 0, tids: row?.tids ?? null };
}

/**
 * Step 3, one statement: the events `newEvents` selects (a condition on
 * `raw_events r`: this fold's ids, or a whole site when re-folding) into the
 * daily tables of part one by site-local day, the visits they touch
 * (`visits.ts`), and the rollups: event-level rows (totals, path, eventType,
 * props, on the event's day) and the visits' (new − old) rows in one insert.
 */
export async function foldNewEvents(tx: Database, newEvents: SQL, rules: VisitRules): Promise<void> {
  await queryPrepared(
    tx,
    sql`
    WITH fresh AS (
      -- Only the columns the statement reads: every reference to a CTE scans the rows it stored.
      SELECT r.site_id, r.visitor_id, r.user_id, r.event_type, r.path, r.props, r.event_ts, r.ingestion_ts,
             r.ctid AS row_tid, (r.event_ts AT TIME ZONE coalesce(s.time_zone, 'UTC'))::date AS local_date
      FROM raw_events r LEFT JOIN ${sites} s ON s.site_id = r.site_id
      WHERE ${newEvents}
    ),
    path_views AS (
      INSERT INTO ${siteDailyPathCounts} AS p (site_id, date, path, views)
      SELECT site_id, local_date, path, count(*) FROM fresh
      GROUP BY site_id, local_date, path ORDER BY site_id COLLATE "C", local_date, path COLLATE "C"
      ON CONFLICT (site_id, date, path) DO UPDATE SET views = p.views + excluded.views
    ),
    event_type_counts AS (
      INSERT INTO ${siteDailyEventCounts} AS t (site_id, date, event_type, path, events)
      SELECT site_id, local_date, event_type, path, count(*) FROM fresh
      GROUP BY site_id, local_date, event_type, path
      ORDER BY site_id COLLATE "C", local_date, event_type COLLATE "C", path COLLATE "C"
      ON CONFLICT (site_id, date, event_type, path) DO UPDATE SET events = t.events + excluded.events
    ),
    -- Event-level rollups: the totals, path, eventType and every props key, on the event's own day.
    slices AS (
      SELECT site_id, local_date, event_type, '' AS dimension, '' AS value FROM fresh
      UNION ALL SELECT site_id, local_date, event_type, 'path', path FROM fresh
      UNION ALL SELECT site_id, local_date, event_type, 'eventType', event_type FROM fresh
      UNION ALL
      SELECT site_id, local_date, event_type, 'props:' || p.key, p.value
      FROM fresh, LATERAL jsonb_each_text(fresh.props) AS p(key, value)
      WHERE fresh.props IS NOT NULL AND jsonb_typeof(fresh.props) = 'object'
    ),
    event_rows AS (
      SELECT site_id, local_date AS date, dimension, value, count(*) AS events,
             count(*) FILTER (WHERE event_type = 'page_view') AS pageviews,
             0 AS visits, 0 AS bounces, 0 AS duration_s
      FROM slices GROUP BY site_id, local_date, dimension, value
    ),
    ${visitCtes(rules)},
    -- The day's visitor ledgers, from the events \`ledger\` (visits.ts) does not already know to be on them.
    new_visitors AS (
      INSERT INTO ${siteDailyUniqueUsers} (site_id, date, user_id, visitor_id)
      SELECT site_id, local_date, max(user_id), visitor_id FROM ledger WHERE NOT day_seen
      GROUP BY site_id, local_date, visitor_id
      ON CONFLICT ON CONSTRAINT unq_site_date_visitor DO NOTHING
      RETURNING site_id, date
    ),
    new_visitors_per_day AS (
      SELECT site_id, date, count(*) AS visitors FROM new_visitors GROUP BY site_id, date
    ),
    events_per_day AS (
      SELECT site_id, local_date AS date, count(*) AS views FROM fresh GROUP BY site_id, local_date
    ),
    daily_totals AS (
      INSERT INTO ${siteDailyAggregates} AS a (site_id, date, total_views, unique_users)
      SELECT d.site_id, d.date, d.views, coalesce(v.visitors, 0)
      FROM events_per_day d LEFT JOIN new_visitors_per_day v USING (site_id, date)
      ORDER BY d.site_id COLLATE "C", d.date
      ON CONFLICT (site_id, date) DO UPDATE
        SET total_views = a.total_views + excluded.total_views,
            unique_users = a.unique_users + excluded.unique_users
    ),
    event_type_visitors AS (
      INSERT INTO ${siteDailyEventVisitors} (site_id, date, event_type, visitor_id)
      SELECT site_id, local_date, event_type, visitor_id FROM ledger
      WHERE visitor_id IS NOT NULL AND NOT type_seen GROUP BY site_id, local_date, event_type, visitor_id
      ON CONFLICT DO NOTHING
      RETURNING 1
    ),
    -- The rows keyed by visitor, which only this part writes. Read before the first shared counter row is
    -- written, so they are written first: a counter row stays locked until commit, and the other part
    -- waits on it. (A data-modifying CTE that nothing reads runs after the main statement.)
    own_rows AS (
      SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM upserted)
           + (SELECT count(*) FROM new_visitors) + (SELECT count(*) FROM event_type_visitors) AS written
    )
    INSERT INTO ${siteDailyRollups} AS t (site_id, date, dimension, value, events, pageviews, visits, bounces, duration_s)
    SELECT site_id, date, dimension, value, sum(events), sum(pageviews), sum(visits), sum(bounces), sum(duration_s)
    FROM (SELECT * FROM event_rows UNION ALL SELECT * FROM visit_rows) AS changes
    WHERE (SELECT written FROM own_rows) IS NOT NULL
    GROUP BY site_id, date, dimension, value
    HAVING sum(events) <> 0 OR sum(pageviews) <> 0 OR sum(visits) <> 0 OR sum(bounces) <> 0 OR sum(duration_s) <> 0
    ORDER BY site_id COLLATE "C", date, dimension COLLATE "C", value COLLATE "C"
    ON CONFLICT (site_id, date, dimension, value) DO UPDATE SET
      events = t.events + excluded.events, pageviews = t.pageviews + excluded.pageviews,
      visits = t.visits + excluded.visits, bounces = t.bounces + excluded.bounces,
      duration_s = t.duration_s + excluded.duration_s
  `,
  );
}
