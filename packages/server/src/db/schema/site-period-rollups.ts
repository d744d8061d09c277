/**
 * Sealed weeks and months of `site_daily_rollups`: the same slices
 * (dimension, value) with the period's counters summed and its days' visitor
 * sketches merged, so a year is read as 12 rows per value instead of 365 and a
 * month's days as 4 weeks and a few days (`query/periods.ts` writes them,
 * `query/sql.ts` reads them). A period is sealed when its totals row
 * (dimension `''`, value `''`) exists; only whole past periods are sealed.
 * Weeks are ISO weeks (Monday to Sunday), months calendar months, both of
 * site-local days.
 */
import { bigint, date, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';
import { bytea, rollupCounters } from './site-daily-rollups.js';

/** The columns of a sealed period's row beside the one naming the period. */
const sealedColumns = () => ({
  siteId: keyText('site_id').notNull(),
  dimension: keyText('dimension').notNull(),
  value: keyText('value').notNull(),
  ...rollupCounters(),
  visitorsSketch: bytea('visitors_sketch').notNull(),
  /**
   * The period's distinct visitors as its sketch estimates them, written at
   * sealing: ranking a breakdown by visitors bounds each value with it
   * before merging any sketch (`query/top-visitors.ts`). Null in months
   * sealed before it existed; the worker seals those again.
   */
  visitorsEstimate: bigint('visitors_estimate', { mode: 'number' }),
});

export const siteMonthlyRollups = pgTable(
  'site_monthly_rollups',
  {
    ...sealedColumns(),
    /** The month's first day (site-local). */
    month: date('month').notNull(),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.dimension, table.month, table.value] })],
);

export const siteWeeklyRollups = pgTable(
  'site_weekly_rollups',
  {
    ...sealedColumns(),
    /** The week's Monday (site-local). */
    week: date('week').notNull(),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.dimension, table.week, table.value] })],
);
