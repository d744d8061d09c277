/**
 * Visits, exactly once (SPEC §11). Part of the fold's one statement (`visitCtes`), after
 * the raw events are inserted and while the fold holds its sites' locks (so no
 * other transaction changes these visitors' events or visits meanwhile, and
 * this statement sees every committed event of theirs).
 *
 * For each (site, visitor) whose on-time events were newly inserted, with
 * window W = [first new event − timeout, last new event + timeout]:
 * - the stored visits overlapping W are the only ones the new events can
 *   change (a visit outside W has a gap over the timeout to every new event);
 * - each such visit is one segment (first event, last event, last page view,
 *   counts and first-event attributes), each new event another; the segments
 *   are cut into visits as gaps and islands (`ts_start` ordered, ties broken by
 *   the first event's id; an island ends where the next segment starts more
 *   than the timeout after every earlier segment ended). This is exact without
 *   reading raw events again: a stored visit has no gap over the timeout inside
 *   it, and new events only close gaps, so visits merge but never split.
 * The old visits that are not among the new ones are deleted, the new ones
 * upserted, and (new − old) is added to the visit rollups, keys sorted.
 *
 * "On time": received at most `LATE_EVENT_HOURS` after its timestamp. A later
 * event counts as an event everywhere but never changes visits, so a visit is
 * the same whatever order its events came in.
 */
import { type SQL, sql } from 'drizzle-orm';

export interface VisitRules {
  /** `VISIT_TIMEOUT_MINUTES`. */
  timeoutMinutes: number;
  /** `LATE_EVENT_HOURS`. */
  lateEventHours: number;
}

export const DEFAULT_VISIT_RULES: VisitRules = { timeoutMinutes: 30, lateEventHours: 48 };

/** The visit attributes taken from its first event, in column order. */
const FIRST_EVENT_COLUMNS = [
  'source',
  'channel',
  'referrer_domain',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'device',
  'browser',
  'os',
  'country',
  'region',
  'city',
  'language',
] as const;

/** Visit-level dimensions of `site_daily_rollups` and the visit column each reads. */
export const VISIT_DIMENSIONS: readonly (readonly [string, string])[] = [
  ['entryPage', 'entry_page'],
  ['exitPage', 'exit_page'],
  ['source', 'source'],
  ['channel', 'channel'],
  ['referrer', 'referrer_domain'],
  ['utmSource', 'utm_source'],
  ['utmMedium', 'utm_medium'],
  ['utmCampaign', 'utm_campaign'],
  ['utmTerm', 'utm_term'],
  ['utmContent', 'utm_content'],
  ['country', 'country'],
  ['region', 'region'],
  ['city', 'city'],
  ['device', 'device'],
  ['browser', 'browser'],
  ['os', 'os'],
  ['language', 'language'],
];

const columns = (prefix: string) => FIRST_EVENT_COLUMNS.map((column) => `${prefix}${column}`).join(', ');

/** The `(dimension, value, counts events)` rows one visit spreads into; the totals take only visit metrics. */
const DIMENSION_VALUES = sql.raw(
  `(VALUES ('', '', 0), ${VISIT_DIMENSIONS.map(([dimension, column]) => `('${dimension}', d.${column}, 1)`).join(', ')})`,
);

/**
 * The visit recompute as CTEs for the fold's one statement: reads `fresh` (the
 * newly inserted raw events), writes `visits`, and ends with `visit_rows`, the
 * (new − old) rollup rows, which the fold adds with the event-level rows in one
 * insert.
 */
export function visitCtes(rules: VisitRules): SQL {
  const timeout = sql`make_interval(mins => ${rules.timeoutMinutes})`;
  const late = sql`make_interval(hours => ${rules.lateEventHours})`;
  const first = sql.raw(columns(''));
  const eventSegment = (alias: string) =>
    sql.raw(`${alias}.site_id, ${alias}.visitor_id, ${alias}.event_ts, ${alias}.event_id, ${alias}.event_ts, 1,
             (${alias}.event_type = 'page_view')::int, ${alias}.path,
             CASE WHEN ${alias}.event_type = 'page_view' THEN ${alias}.path END,
             CASE WHEN ${alias}.event_type = 'page_view' THEN ${alias}.event_ts END, ${alias}.event_id,
             ${columns(`${alias}.`)}`);
  return sql`
    -- Per visitor: the window its on-time new events span, and their ids. From here on, CTEs join
    -- tables by index, never each other: PostgreSQL has no row counts for CTEs, and a nested loop
    -- between two of thousands of rows would take seconds.
    pairs AS (
      SELECT site_id, visitor_id, min(event_ts) AS lo, max(event_ts) AS hi, array_agg(row_tid) AS ids
      FROM fresh WHERE visitor_id IS NOT NULL AND ingestion_ts - event_ts <= ${late}
      GROUP BY site_id, visitor_id
    ),
    -- One index probe per visitor: up to two stored visits within the timeout of its new events. One new
    -- event and at most one such visit (the common case: it joins that visit) is "simple", and the probe
    -- row carries everything the simple case needs; the others read their visits again below. A visitor's
    -- visits never overlap, so they end in the order they start, and those within the timeout are the last
    -- of the ones that start before the window ends: the probe reads the two latest of those, newest first,
    -- not the visitor's whole history (a returning visitor may have thousands).
    probe AS (
      SELECT p.site_id, p.visitor_id, p.lo, p.hi, p.ids, o.*,
             cardinality(p.ids) = 1 AND coalesce(o.o_n, 0) <= 1 AS simple
      FROM pairs p LEFT JOIN LATERAL (
        SELECT v.started_at AS o_started_at, v.ended_at AS o_ended_at, v.date AS o_date, v.events AS o_events,
               v.pageviews AS o_pageviews, v.entry_page AS o_entry_page, v.exit_page AS o_exit_page,
               v.first_event_id AS o_first_event_id, v.exit_at AS o_exit_at, v.exit_event_id AS o_exit_event_id,
               ${sql.raw(FIRST_EVENT_COLUMNS.map((column) => `v.${column} AS o_${column}`).join(', '))},
               count(*) OVER () AS o_n, row_number() OVER () AS o_k
        FROM (
          SELECT * FROM visits v
          WHERE v.site_id = p.site_id AND v.visitor_id = p.visitor_id AND v.started_at <= p.hi + ${timeout}
          ORDER BY v.started_at DESC LIMIT 2) v
        WHERE v.ended_at >= p.lo - ${timeout}
      ) o ON true
    ),
    touched AS (
      SELECT site_id, visitor_id, lo, hi, ids, simple FROM probe WHERE coalesce(o_k, 1) = 1
    ),
    -- The stored visits within the timeout of the new events: the only ones they can change.
    old (site_id, visitor_id, started_at, ended_at, date, events, pageviews, entry_page, exit_page,
         first_event_id, exit_at, exit_event_id, ${first}, simple) AS (
      SELECT site_id, visitor_id, o_started_at, o_ended_at, o_date, o_events, o_pageviews, o_entry_page,
             o_exit_page, o_first_event_id, o_exit_at, o_exit_event_id, ${sql.raw(columns('o_'))}, true
      FROM probe WHERE simple AND o_k = 1
      UNION ALL
      SELECT v.site_id, v.visitor_id, v.started_at, v.ended_at, v.date, v.events, v.pageviews, v.entry_page,
             v.exit_page, v.first_event_id, v.exit_at, v.exit_event_id, ${sql.raw(columns('v.'))}, false
      FROM touched t
      -- From the start of the visitor's last visit that starts at or before the window does: no earlier visit
      -- can reach into the window, so a visitor's history is not read whole.
      CROSS JOIN LATERAL (
        SELECT coalesce(max(b.started_at), '-infinity') AS floor FROM (
          SELECT b.started_at FROM visits b
          WHERE b.site_id = t.site_id AND b.visitor_id = t.visitor_id AND b.started_at <= t.lo - ${timeout}
          ORDER BY b.started_at DESC LIMIT 1) b
      ) f
      JOIN visits v
        ON v.site_id = t.site_id AND v.visitor_id = t.visitor_id AND v.started_at >= f.floor
       AND v.ended_at >= t.lo - ${timeout} AND v.started_at <= t.hi + ${timeout}
      WHERE NOT t.simple
    ),
    -- The simple case, row by row: the event extends its visit, starts it earlier, or is a visit alone.
    single AS (
      SELECT n.*, t.o_started_at, t.o_ended_at, t.o_date, t.o_events, t.o_pageviews, t.o_entry_page, t.o_exit_page,
             t.o_first_event_id, t.o_exit_at, t.o_exit_event_id,
             ${sql.raw(FIRST_EVENT_COLUMNS.map((column) => `t.o_${column}`).join(', '))},
             (t.o_started_at IS NULL OR (n.event_ts, n.event_id) < (t.o_started_at, t.o_first_event_id)) AS is_first,
             (n.event_type = 'page_view' AND (t.o_exit_at IS NULL OR (n.event_ts, n.event_id) > (t.o_exit_at, t.o_exit_event_id)))
               AS is_exit
      FROM probe t
      JOIN raw_events n ON n.ctid = t.ids[1]
      WHERE t.simple
    ),
    single_computed AS (
      SELECT s.site_id, s.visitor_id, x.started_at, greatest(s.event_ts, s.o_ended_at) AS ended_at,
             (x.started_at AT TIME ZONE coalesce(z.time_zone, 'UTC'))::date AS date,
             coalesce(s.o_events, 0) + 1 AS events,
             coalesce(s.o_pageviews, 0) + (s.event_type = 'page_view')::int AS pageviews,
             CASE WHEN s.is_first THEN s.path ELSE s.o_entry_page END AS entry_page,
             CASE WHEN s.is_exit THEN s.path ELSE s.o_exit_page END AS exit_page,
             CASE WHEN s.is_first THEN s.event_id ELSE s.o_first_event_id END AS first_event_id,
             CASE WHEN s.is_exit THEN s.event_ts ELSE s.o_exit_at END AS exit_at,
             CASE WHEN s.is_exit THEN s.event_id ELSE s.o_exit_event_id END AS exit_event_id,
             ${sql.raw(FIRST_EVENT_COLUMNS.map((column) => `CASE WHEN s.is_first THEN s.${column} ELSE s.o_${column} END AS ${column}`).join(', '))}
      FROM single s
      CROSS JOIN LATERAL (SELECT CASE WHEN s.is_first THEN s.event_ts ELSE s.o_started_at END AS started_at) x
      LEFT JOIN sites z ON z.site_id = s.site_id
    ),
    -- Every new event once, for the day's visitor ledgers, and whether its stored visit shows the visitor
    -- there already: a stored visit's events were folded with it, so the days of its first and last events
    -- hold the visitor, and the day of its last page view a page_view visitor. An event on such a day needs
    -- no index probe to learn that it adds nobody, the common case of a visit that goes on. Only simple
    -- visitors carry their stored visit here; the others' events are read again by address, and events
    -- outside visits (late, or without a visitor) come from \`fresh\`. A re-fold (refold.ts) deletes every visit
    -- that holds a raw event it folds again, and so finds no stored visit here for those events' visitors.
    ledger (site_id, local_date, event_type, visitor_id, user_id, day_seen, type_seen) AS (
      SELECT s.site_id, x.local_date, s.event_type, s.visitor_id, s.user_id,
             (x.local_date = s.o_date OR x.local_date = (s.o_ended_at AT TIME ZONE x.zone)::date) IS TRUE,
             (s.event_type = 'page_view' AND x.local_date = (s.o_exit_at AT TIME ZONE x.zone)::date) IS TRUE
      FROM single s LEFT JOIN sites z ON z.site_id = s.site_id
      CROSS JOIN LATERAL (SELECT coalesce(z.time_zone, 'UTC') AS zone,
                                 (s.event_ts AT TIME ZONE coalesce(z.time_zone, 'UTC'))::date AS local_date) x
      UNION ALL
      SELECT n.site_id, (n.event_ts AT TIME ZONE coalesce(z.time_zone, 'UTC'))::date, n.event_type, n.visitor_id,
             n.user_id, false, false
      FROM touched t CROSS JOIN LATERAL unnest(t.ids) AS i(id)
      JOIN raw_events n ON n.ctid = i.id LEFT JOIN sites z ON z.site_id = n.site_id
      WHERE NOT t.simple
      UNION ALL
      SELECT site_id, local_date, event_type, visitor_id, user_id, false, false FROM fresh
      WHERE visitor_id IS NULL OR (ingestion_ts - event_ts <= ${late}) IS NOT TRUE
    ),
    -- Every other visitor: its stored visits and new events as segments, cut into visits.
    segments (site_id, visitor_id, ts_start, tb, ts_end, events, pageviews, entry, exit, exit_ts, exit_tb, ${first}) AS (
      SELECT o.site_id, o.visitor_id, o.started_at, o.first_event_id, o.ended_at, o.events, o.pageviews,
             o.entry_page, o.exit_page, o.exit_at, o.exit_event_id, ${sql.raw(columns('o.'))}
      FROM old o WHERE NOT o.simple
      UNION ALL
      -- One TID scan per id: a join on ctid = ANY(ids) would be planned as a scan of the whole table.
      SELECT ${eventSegment('n')} FROM touched t CROSS JOIN LATERAL unnest(t.ids) AS i(id)
      JOIN raw_events n ON n.ctid = i.id WHERE NOT t.simple
    ),
    flagged AS (
      SELECT *, CASE WHEN ts_start - max(ts_end) OVER (
                  PARTITION BY site_id, visitor_id ORDER BY ts_start, tb
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <= ${timeout}
                THEN 0 ELSE 1 END AS starts
      FROM segments
    ),
    numbered AS (
      SELECT *, sum(starts) OVER (
               PARTITION BY site_id, visitor_id ORDER BY ts_start, tb ROWS UNBOUNDED PRECEDING) AS island
      FROM flagged
    ),
    firsts AS (
      SELECT DISTINCT ON (site_id, visitor_id, island) site_id, visitor_id, island, tb, entry, ${first}
      FROM numbered ORDER BY site_id, visitor_id, island, ts_start, tb
    ),
    exits AS (
      SELECT DISTINCT ON (site_id, visitor_id, island) site_id, visitor_id, island, exit, exit_ts, exit_tb
      FROM numbered WHERE exit IS NOT NULL ORDER BY site_id, visitor_id, island, exit_ts DESC, exit_tb DESC
    ),
    sums AS (
      SELECT site_id, visitor_id, island, min(ts_start) AS started_at, max(ts_end) AS ended_at,
             sum(events)::int AS events, sum(pageviews)::int AS pageviews
      FROM numbered GROUP BY site_id, visitor_id, island
    ),
    computed AS (
      SELECT * FROM single_computed
      UNION ALL
      SELECT s.site_id, s.visitor_id, s.started_at, s.ended_at,
             (s.started_at AT TIME ZONE coalesce(z.time_zone, 'UTC'))::date AS date,
             s.events, s.pageviews, f.entry AS entry_page, x.exit AS exit_page,
             f.tb AS first_event_id, x.exit_ts AS exit_at, x.exit_tb AS exit_event_id, ${sql.raw(columns('f.'))}
      FROM sums s JOIN firsts f USING (site_id, visitor_id, island)
      LEFT JOIN exits x USING (site_id, visitor_id, island)
      LEFT JOIN sites z ON z.site_id = s.site_id
    ),
    -- Old visits that no new one replaces (keys matched by grouping: CTEs have no statistics, and an
    -- anti-join between two of them would be planned as a nested loop).
    gone AS (
      SELECT site_id, visitor_id, started_at FROM (
        SELECT site_id, visitor_id, started_at, 1 AS old FROM old
        UNION ALL SELECT site_id, visitor_id, started_at, 0 FROM computed
      ) keyed GROUP BY site_id, visitor_id, started_at HAVING min(old) = 1
    ),
    removed AS (
      DELETE FROM visits v USING gone g
      WHERE v.site_id = g.site_id AND v.visitor_id = g.visitor_id AND v.started_at = g.started_at
      RETURNING 1
    ),
    upserted AS (
      INSERT INTO visits AS v (site_id, visitor_id, started_at, ended_at, date, events, pageviews, entry_page,
                               exit_page, first_event_id, exit_at, exit_event_id, ${first})
      SELECT site_id, visitor_id, started_at, ended_at, date, events, pageviews, entry_page,
             exit_page, first_event_id, exit_at, exit_event_id, ${first}
      FROM computed
      ON CONFLICT (site_id, visitor_id, started_at) DO UPDATE SET
        ended_at = excluded.ended_at, date = excluded.date, events = excluded.events,
        pageviews = excluded.pageviews, entry_page = excluded.entry_page, exit_page = excluded.exit_page,
        first_event_id = excluded.first_event_id, exit_at = excluded.exit_at, exit_event_id = excluded.exit_event_id,
        ${sql.raw(FIRST_EVENT_COLUMNS.map((column) => `${column} = excluded.${column}`).join(', '))}
      RETURNING 1
    ),
    signed AS (
      SELECT site_id, date, entry_page, exit_page, ${first}, 1 AS visits, events, pageviews,
             (events = 1 AND pageviews = 1)::int AS bounces,
             floor(extract(epoch FROM ended_at - started_at))::bigint AS duration_s
      FROM computed
      UNION ALL
      SELECT site_id, date, entry_page, exit_page, ${first}, -1, -events, -pageviews,
             -(events = 1 AND pageviews = 1)::int, -floor(extract(epoch FROM ended_at - started_at))::bigint
      FROM old
    ),
    -- An extended visit's old and new rows mostly share every attribute: net them out before spreading into dimensions.
    d AS (
      SELECT site_id, date, entry_page, exit_page, ${first}, sum(visits) AS visits, sum(events) AS events,
             sum(pageviews) AS pageviews, sum(bounces) AS bounces, sum(duration_s) AS duration_s
      FROM signed GROUP BY site_id, date, entry_page, exit_page, ${first}
    ),
    visit_rows AS (
      SELECT d.site_id, d.date, x.dimension, x.value, d.events * x.counts AS events,
             d.pageviews * x.counts AS pageviews, d.visits, d.bounces, d.duration_s
      FROM d, LATERAL ${DIMENSION_VALUES} AS x(dimension, value, counts)
      WHERE x.value IS NOT NULL
    )`;
}
