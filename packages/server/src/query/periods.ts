/**
 * Sealed weeks and months (`site_weekly_rollups`, `site_monthly_rollups`): a
 * whole past period of a site's daily rollups, counters summed and visitor
 * sketches merged per dimension value, so a year-long query reads 12 rows per
 * value instead of 365, and a 30-day one about 4 weeks and the days around
 * them instead of 30 days. A period is sealed once it ended more than
 * `LATE_EVENT_HOURS` (plus a day for every time zone) ago; a sealed period
 * whose totals no longer match its days (an event later still) is read from
 * its days and sealed again. Each row keeps its sketch's estimate too
 * (`visitors_estimate`), a bound for ranking by visitors (`top-visitors.ts`).
 * Run by the worker beside the day seals (`worker/sketches.ts`); the pair
 * rollups are sealed by month only (`sealPairMonth`).
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { insertPairPacks, type PairPack } from './pairs.js';
import { addMonths } from './ranges.js';
import { PERIODS, type PeriodKind, periodIsCurrent, unsealedVisitors } from './sql.js';
import { VisitorUnion } from './visitor-union.js';

/** Seals one week or month of one site (replacing what was sealed before), in one transaction. */
export async function sealPeriod(db: Database, siteId: string, kind: PeriodKind, first: string): Promise<number> {
  const { table, column, next: nextOf } = PERIODS[kind];
  return db.transaction(
    async (transaction) => {
      const tx = transaction as unknown as Database;
      const next = nextOf(first);
      const [site] = await queryRows<{ time_zone: string }>(
        tx,
        sql`SELECT rollups_time_zone AS time_zone FROM sites WHERE site_id = ${siteId}`,
      );
      const days = sql`r.site_id = ${siteId} AND r.date >= ${first}::date AND r.date < ${next}::date`;
      const rows = await queryRows<{
        dimension: string;
        value: string;
        events: string;
        pageviews: string;
        visits: string;
        bounces: string;
        duration_s: string;
        sketches: Buffer[] | null;
        unsealed: boolean;
      }>(
        tx,
        sql`SELECT r.dimension, r.value, sum(r.events) AS events, sum(r.pageviews) AS pageviews,
              sum(r.visits) AS visits, sum(r.bounces) AS bounces, sum(r.duration_s) AS duration_s,
              array_agg(r.visitors_sketch) FILTER (WHERE r.visitors_sketch IS NOT NULL) AS sketches,
              bool_or(r.visitors_sketch IS NULL) AS unsealed
            FROM site_daily_rollups r WHERE ${days} GROUP BY 1, 2
            HAVING sum(r.events) <> 0 OR sum(r.visits) <> 0`,
      );
      const unions = new Map<string, VisitorUnion>();
      for (const row of rows) {
        const union = new VisitorUnion();
        for (const sketch of row.sketches ?? []) union.addSketch(sketch);
        unions.set(`${row.dimension}\u0000${row.value}`, union);
      }
      // Days not sealed yet: their visitors from the tables the rollups were folded from.
      const plan = { siteId, timeZone: site?.time_zone ?? 'UTC' };
      for (const dimension of new Set(rows.filter((row) => row.unsealed).map((row) => row.dimension))) {
        const ids = await queryRows<{ value: string; id: string }>(
          tx,
          sql`SELECT DISTINCT m.value, x.visitor_id AS id
              FROM site_daily_rollups m CROSS JOIN LATERAL (${unsealedVisitors(plan, dimension)}) x
              WHERE m.site_id = ${siteId} AND m.dimension = ${dimension} AND m.visitors_sketch IS NULL
                AND m.date >= ${first}::date AND m.date < ${next}::date`,
        );
        for (const { value, id } of ids) unions.get(`${dimension}\u0000${value}`)?.addVisitor(id);
      }
      await tx.execute(
        sql`DELETE FROM ${sql.identifier(table)} WHERE site_id = ${siteId} AND ${sql.identifier(column)} = ${first}::date`,
      );
      for (let i = 0; i < rows.length; i += 1_000) {
        const chunk = rows.slice(i, i + 1_000);
        const chunkUnions = chunk.map((row) => unions.get(`${row.dimension}\u0000${row.value}`) as VisitorUnion);
        const sketches = chunkUnions.map((union) => union.serialize());
        // Sketches travel as base64 text, decoded by PostgreSQL, as the day seals send them: PGlite takes no
        // `bytea[]` parameter of strings.
        await tx.execute(sql`
          INSERT INTO ${sql.identifier(table)} (site_id, ${sql.identifier(column)}, dimension, value, events, pageviews, visits, bounces, duration_s, visitors_sketch, visitors_estimate)
          SELECT ${siteId}, ${first}::date, u.dimension, u.value, u.events, u.pageviews, u.visits, u.bounces, u.duration_s,
                 decode(u.sketch, 'base64'), u.estimate
          FROM unnest(
            ${sql.param(chunk.map((row) => row.dimension))}::text[], ${sql.param(chunk.map((row) => row.value))}::text[],
            ${sql.param(chunk.map((row) => row.events))}::bigint[], ${sql.param(chunk.map((row) => row.pageviews))}::bigint[],
            ${sql.param(chunk.map((row) => row.visits))}::bigint[], ${sql.param(chunk.map((row) => row.bounces))}::bigint[],
            ${sql.param(chunk.map((row) => row.duration_s))}::bigint[], ${sql.param(sketches.map((s) => s.toString('base64')))}::text[],
            ${sql.param(chunkUnions.map((union) => union.estimate()))}::bigint[]
          ) AS u(dimension, value, events, pageviews, visits, bounces, duration_s, sketch, estimate)`);
      }
      return rows.length;
    },
    { isolationLevel: 'repeatable read' },
  );
}

/** The UTC day from which on late events may still change days: periods that ended before it are settled. */
const settledDay = (lateEventHours: number, now: Date) =>
  new Date(now.getTime() - (lateEventHours + 24) * 3_600_000).toISOString().slice(0, 10);

/**
 * Seals every whole week or month that ended long enough ago and is not
 * sealed (or no longer current, or sealed before periods kept their visitor
 * estimate); answers how many.
 */
export async function sealPendingPeriods(
  db: Database,
  kind: PeriodKind,
  { lateEventHours, now = new Date() }: { lateEventHours: number; now?: Date },
): Promise<number> {
  const settled = settledDay(lateEventHours, now);
  const { table, column } = PERIODS[kind];
  const unit = sql.raw(`'${kind}'`);
  const pending = await queryRows<{ site_id: string; first: string }>(
    db,
    sql`SELECT p.site_id, p.first::text AS first
        FROM (
          SELECT DISTINCT d.site_id, date_trunc(${unit}, d.date)::date AS first FROM site_daily_rollups d
          WHERE d.dimension = '' AND d.value = '' AND d.date < date_trunc(${unit}, ${settled}::date)::date
        ) p
        WHERE NOT EXISTS (
          SELECT 1 FROM ${sql.identifier(table)} m
          WHERE m.site_id = p.site_id AND m.dimension = '' AND m.value = '' AND m.${sql.identifier(column)} = p.first
            AND m.visitors_estimate IS NOT NULL AND ${periodIsCurrent(kind)})
        ORDER BY 1, 2`,
  );
  for (const { site_id: siteId, first } of pending) await sealPeriod(db, siteId, kind, first);
  return pending.length;
}

/**
 * Seals one month of a site's pair rollups (`site_monthly_pair_rollups`) from
 * its days', when every day of the month with events has current pairs;
 * answers whether it did. The marker row keeps the month's event count.
 */
export async function sealPairMonth(db: Database, siteId: string, month: string): Promise<boolean> {
  return db.transaction(
    async (transaction) => {
      const tx = transaction as unknown as Database;
      const next = addMonths(month, 1);
      await tx.execute(sql`DELETE FROM site_monthly_pair_rollups WHERE site_id = ${siteId} AND month = ${month}::date`);
      const [days] = await queryRows<{ ready: boolean; events: string }>(
        tx,
        sql`SELECT coalesce(bool_and(p.events IS NOT NULL AND p.events[1] = a.total_views), false) AS ready,
              coalesce(sum(a.total_views), 0) AS events
            FROM site_daily_aggregates a
            LEFT JOIN site_daily_pair_rollups p ON p.site_id = a.site_id AND p.filter_dimension = ''
              AND p.dimension = '' AND p.filter_value = '' AND p.date = a.date
            WHERE a.site_id = ${siteId} AND a.date >= ${month}::date AND a.date < ${next}::date`,
      );
      if (!days?.ready) return false;
      const rows = await queryRows<{
        filter_dimension: string;
        filter_value: string;
        dimension: string;
        values: string[];
        events: string[];
        pageviews: string[];
        sketch_ends: number[];
        sketches: Buffer;
      }>(
        tx,
        sql`SELECT filter_dimension, filter_value, dimension, values, events, pageviews, sketch_ends, sketches
            FROM site_daily_pair_rollups
            WHERE site_id = ${siteId} AND date >= ${month}::date AND date < ${next}::date AND filter_dimension <> ''
            ORDER BY filter_dimension, filter_value, dimension, date`,
      );
      const packs = new Map<
        string,
        { pack: PairPack; entries: Map<string, { events: number; pageviews: number; union: VisitorUnion }> }
      >();
      for (const row of rows) {
        const key = `${row.filter_dimension}\u0000${row.filter_value}\u0000${row.dimension}`;
        let found = packs.get(key);
        if (found === undefined) {
          const pack = {
            filterDimension: row.filter_dimension,
            filterValue: row.filter_value,
            dimension: row.dimension,
            entries: [],
          };
          found = { pack, entries: new Map() };
          packs.set(key, found);
        }
        for (const [i, value] of row.values.entries()) {
          let entry = found.entries.get(value);
          if (entry === undefined) {
            entry = { events: 0, pageviews: 0, union: new VisitorUnion() };
            found.entries.set(value, entry);
          }
          entry.events += Number(row.events[i]);
          entry.pageviews += Number(row.pageviews[i]);
          entry.union.addSketch(row.sketches.subarray(i === 0 ? 0 : row.sketch_ends[i - 1], row.sketch_ends[i]));
        }
      }
      const marker: PairPack = {
        filterDimension: '',
        filterValue: '',
        dimension: '',
        entries: [],
        events: Number(days.events),
      };
      const sealed = [...packs.values()].map(({ pack, entries }) => ({
        ...pack,
        entries: [...entries]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([value, entry]) => ({
            value,
            events: entry.events,
            pageviews: entry.pageviews,
            sketch: entry.union.serialize(),
          })),
      }));
      await insertPairPacks(tx, 'site_monthly_pair_rollups', 'month', siteId, month, [marker, ...sealed]);
      return true;
    },
    { isolationLevel: 'repeatable read' },
  );
}

/**
 * Seals the pair rollups of every whole settled month whose days all have
 * current pairs and whose sealed pairs are missing or stale; answers how many.
 */
export async function sealPendingPairMonths(
  db: Database,
  { lateEventHours, now = new Date() }: { lateEventHours: number; now?: Date },
): Promise<number> {
  const settled = settledDay(lateEventHours, now);
  const pending = await queryRows<{ site_id: string; month: string }>(
    db,
    sql`SELECT d.site_id, d.month::text AS month
        FROM (
          SELECT a.site_id, date_trunc('month', a.date)::date AS month, sum(a.total_views) AS events
          FROM site_daily_aggregates a
          LEFT JOIN site_daily_pair_rollups p ON p.site_id = a.site_id AND p.filter_dimension = ''
            AND p.dimension = '' AND p.filter_value = '' AND p.date = a.date
          WHERE a.date < date_trunc('month', ${settled}::date)::date
          GROUP BY 1, 2
          HAVING bool_and(p.events IS NOT NULL AND p.events[1] = a.total_views)
        ) d
        WHERE NOT EXISTS (
          SELECT 1 FROM site_monthly_pair_rollups m
          WHERE m.site_id = d.site_id AND m.filter_dimension = '' AND m.dimension = '' AND m.filter_value = ''
            AND m.month = d.month AND m.events[1] = d.events)
        ORDER BY 1, 2`,
  );
  let sealed = 0;
  for (const { site_id: siteId, month } of pending) if (await sealPairMonth(db, siteId, month)) sealed += 1;
  return sealed;
}
