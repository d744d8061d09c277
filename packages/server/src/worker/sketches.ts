/**
 * Sealing days: once no on-time event can reach a site-local day any more (it
 * ended over `LATE_EVENT_HOURS` + the visit timeout ago), its visitors are
 * counted per rollup row — exactly into `visitors_sum`, and as a mergeable
 * HyperLogLog (`query/sketches.ts`) into `visitors_sketch` — from the raw
 * events (totals, path, eventType, props) and the visits (visit-level
 * dimensions) of that day. `site_day_seals` remembers the day's event count:
 * a later event makes the seal stale, and the day is sealed again. A day whose
 * raw events retention already deleted in part is not sealed (its sketches
 * stay null). Runs in every worker process, beside the folds (the site lock,
 * shared), in one snapshot; a re-fold or a delete (the lock, exclusive) keeps
 * seals off, and sealing twice writes the same bytes.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Database, queryRows } from '../db/client.js';
import { insertPairPacks, PAIR_DIMENSIONS, PAIR_FILTERS, type PairPack } from '../query/pairs.js';
import { sealPendingPairMonths, sealPendingPeriods } from '../query/periods.js';
import { VisitorSketch } from '../query/sketches.js';
import { lockSites } from './fold-batch.js';
import { startPeriodic } from './periodic.js';
import { VISIT_DIMENSIONS, type VisitRules } from './visits.js';

const VISIT_VALUES = sql.raw(
  `(VALUES ${VISIT_DIMENSIONS.map(([dimension, column]) => `('${dimension}', v.${column})`).join(', ')})`,
);

const SNAPSHOT = { isolationLevel: 'repeatable read' } as const;

/** Seals one day; answers false when its raw events are incomplete (retention) or the site is gone. */
export async function sealDay(db: Database, siteId: string, date: string): Promise<boolean> {
  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    // Shared: the site's folds go on meanwhile (a seal of a busy day reads for seconds). The snapshot
    // keeps the day's count and its sketches consistent; an event folded after it makes the seal stale,
    // and a fold's update of a row this seal writes fails the seal, which the next run does again.
    await lockSites(tx, sql`SELECT ${siteId}::text AS site_id`, { shared: true });
    const [site] = await queryRows<{ time_zone: string; total: string | null }>(
      tx,
      sql`SELECT s.time_zone, a.total_views AS total FROM sites s
          LEFT JOIN site_daily_aggregates a ON a.site_id = s.site_id AND a.date = ${date}::date
          WHERE s.site_id = ${siteId}`,
    );
    if (!site) return false;
    const total = Number(site.total ?? 0);
    const rows = await queryRows<{ dimension: string; value: string; visitors: string[]; raw: string }>(
      tx,
      sql`
      WITH day AS (
        SELECT visitor_id, event_type, path, props FROM raw_events
        WHERE site_id = ${siteId} AND event_date BETWEEN ${date}::date - 1 AND ${date}::date + 1
          AND (event_ts AT TIME ZONE ${site.time_zone})::date = ${date}::date
      ),
      slices AS (
        SELECT '' AS dimension, '' AS value, visitor_id FROM day
        UNION ALL SELECT 'path', path, visitor_id FROM day
        UNION ALL SELECT 'eventType', event_type, visitor_id FROM day
        UNION ALL SELECT 'props:' || p.key, p.value, visitor_id
          FROM day, LATERAL jsonb_each_text(day.props) AS p(key, value)
          WHERE day.props IS NOT NULL AND jsonb_typeof(day.props) = 'object'
        UNION ALL SELECT x.dimension, x.value, v.visitor_id
          FROM visits v, LATERAL ${VISIT_VALUES} AS x(dimension, value)
          WHERE v.site_id = ${siteId} AND v.date = ${date}::date AND x.value IS NOT NULL
      )
      SELECT dimension, value, array_agg(DISTINCT visitor_id) FILTER (WHERE visitor_id IS NOT NULL) AS visitors,
             (SELECT count(*) FROM day) AS raw
      FROM slices GROUP BY dimension, value`,
    );
    const raw = Number(rows[0]?.raw ?? 0);
    const complete = raw === total;
    if (complete && rows.length > 0) {
      const sketches = rows.map(({ dimension, value, visitors }) => {
        const sketch = new VisitorSketch();
        for (const visitor of visitors ?? []) sketch.add(visitor);
        return { dimension, value, visitors: (visitors ?? []).length, sketch: sketch.serialize().toString('base64') };
      });
      await tx.execute(sql`
        INSERT INTO site_daily_rollups AS t (site_id, date, dimension, value, visitors_sum, visitors_sketch)
        SELECT ${siteId}, ${date}::date, r.dimension, r.value, r.visitors, decode(r.sketch, 'base64')
        FROM json_to_recordset(${JSON.stringify(sketches)}::json) AS r(dimension text, value text, visitors bigint, sketch text)
        ORDER BY r.dimension COLLATE "C", r.value COLLATE "C"
        ON CONFLICT (site_id, date, dimension, value) DO UPDATE
          SET visitors_sum = excluded.visitors_sum, visitors_sketch = excluded.visitors_sketch`);
    }
    await sealDayPairs(tx, siteId, date, site.time_zone, complete ? total : -1);
    await tx.execute(sql`
      INSERT INTO site_day_seals (site_id, date, events) VALUES (${siteId}, ${date}::date, ${total})
      ON CONFLICT (site_id, date) DO UPDATE SET events = excluded.events, sealed_at = now()`);
    return complete;
  }, SNAPSHOT);
}

const PAIR_VALUES = sql.raw(
  `(VALUES ${PAIR_FILTERS.map(([dimension]) => `('${dimension}', ev.${dimension})`).join(', ')})`,
);

/**
 * Writes one day's pair rollups (`site_daily_pair_rollups`), replacing the
 * day's old ones: per filter attribute value of the visit and path of the
 * event, the events of that site-local day in such visits, as the raw path of
 * `query/sql.ts` counts them (events outside any visit match no visit filter).
 * A visit is looked for among those that started that day or the two before.
 * `events` goes to the marker row: the day's event count, or -1 when its raw
 * events are incomplete (then no pair row is written and queries read raw).
 */
export async function sealDayPairs(tx: Database, siteId: string, date: string, timeZone: string, events: number) {
  await tx.execute(sql`DELETE FROM site_daily_pair_rollups WHERE site_id = ${siteId} AND date = ${date}::date`);
  const rows =
    events < 0
      ? []
      : await queryRows<{ f: string; fv: string; value: string; events: string; pageviews: string; ids: string[] }>(
          tx,
          sql`
          WITH ev AS (
            SELECT e.path, e.event_type, e.visitor_id,
                   ${sql.raw(PAIR_FILTERS.map(([dimension, column]) => `v.${column} AS ${dimension}`).join(', '))}
            FROM raw_events e
            JOIN visits v ON v.site_id = e.site_id AND v.visitor_id = e.visitor_id
              AND e.event_ts >= v.started_at AND e.event_ts <= v.ended_at
            WHERE e.site_id = ${siteId} AND e.event_date BETWEEN ${date}::date - 1 AND ${date}::date + 1
              AND (e.event_ts AT TIME ZONE ${timeZone})::date = ${date}::date
              AND v.date BETWEEN ${date}::date - 2 AND ${date}::date
          )
          SELECT x.f, x.fv, ev.path AS value, count(*) AS events,
                 count(*) FILTER (WHERE ev.event_type = 'page_view') AS pageviews,
                 array_agg(DISTINCT ev.visitor_id) AS ids
          FROM ev, LATERAL ${PAIR_VALUES} AS x(f, fv)
          WHERE x.fv IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        );
  const packs = new Map<string, PairPack>();
  for (const row of rows) {
    const key = `${row.f}\u0000${row.fv}`;
    let pack = packs.get(key);
    if (pack === undefined) {
      pack = { filterDimension: row.f, filterValue: row.fv, dimension: PAIR_DIMENSIONS[0], entries: [] };
      packs.set(key, pack);
    }
    const sketch = new VisitorSketch();
    for (const id of row.ids) sketch.add(id);
    pack.entries.push({
      value: row.value,
      events: Number(row.events),
      pageviews: Number(row.pageviews),
      sketch: sketch.serialize(),
    });
  }
  const marker: PairPack = { filterDimension: '', filterValue: '', dimension: '', entries: [], events };
  await insertPairPacks(tx, 'site_daily_pair_rollups', 'date', siteId, date, [marker, ...packs.values()]);
}

/** Seals up to `limit` due days (never sealed, or stale); answers how many it looked at. */
export async function sealDueDays(db: Database, rules: VisitRules, limit = 50): Promise<number> {
  const due = await queryRows<{ site_id: string; date: string }>(
    db,
    sql`
    SELECT a.site_id, a.date::text AS date
    FROM site_daily_aggregates a
    JOIN sites s ON s.site_id = a.site_id AND s.time_zone = s.rollups_time_zone
    LEFT JOIN site_day_seals z ON z.site_id = a.site_id AND z.date = a.date
    WHERE a.date < ((now() - make_interval(hours => ${rules.lateEventHours}, mins => ${rules.timeoutMinutes}))
                    AT TIME ZONE s.time_zone)::date
      AND (z.events IS NULL OR z.events <> a.total_views
           -- Sealed before pair rollups existed (a stale pair marker makes the seal stale too).
           OR NOT EXISTS (SELECT 1 FROM site_daily_pair_rollups p
                          WHERE p.site_id = a.site_id AND p.filter_dimension = '' AND p.dimension = ''
                            AND p.filter_value = '' AND p.date = a.date))
    ORDER BY a.site_id, a.date
    LIMIT ${limit}`,
  );
  for (const { site_id: siteId, date } of due) await sealDay(db, siteId, date);
  return due.length;
}

/** Seals due days every `intervalMs` (first run right away); `stop()` waits for a run under way. */
export function startSealing({
  db,
  rules,
  logger,
  intervalMs = 60_000,
}: {
  db: Database;
  rules: VisitRules;
  logger: Logger;
  intervalMs?: number;
}) {
  const run = async () => {
    try {
      while ((await sealDueDays(db, rules)) > 0) {
        // Keep going while there is a backlog (a fresh deployment seals its history in slices).
      }
    } catch (error) {
      logger.warn({ err: error }, 'sealing days failed; retrying at the next interval');
    }
    // Then whole settled weeks and months, merged from their sealed days (`query/periods.ts`), each on its own:
    // one that fails leaves the others to run.
    const late = { lateEventHours: rules.lateEventHours };
    const periods: [string, () => Promise<number>][] = [
      ['weeks', () => sealPendingPeriods(db, 'week', late)],
      ['months', () => sealPendingPeriods(db, 'month', late)],
      ['pair months', () => sealPendingPairMonths(db, late)],
    ];
    for (const [what, seal] of periods) {
      try {
        await seal();
      } catch (error) {
        logger.warn({ err: error }, `sealing ${what} failed; retrying at the next interval`);
      }
    }
  };
  return startPeriodic(run, intervalMs);
}
