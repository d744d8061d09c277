/**
 * A sealed month of `site_daily_rollups`: the same slices (dimension, value)
 * with the month's counters summed and its days' visitor sketches merged, so a
 * year is read as 12 rows per value instead of 365 (`query/months.ts` writes
 * them, `query/sql.ts` reads them). A month is sealed when its totals row
 * (dimension `''`, value `''`) exists; only whole past months are sealed.
 */
import { bigint, date, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea, rollupCounters } from './site-daily-rollups.js';

export const siteMonthlyRollups = pgTable(
  'site_monthly_rollups',
  {
    siteId: text('site_id').notNull(),
    /** The month's first day (site-local). */
    month: date('month').notNull(),
    dimension: text('dimension').notNull(),
    value: text('value').notNull(),
    ...rollupCounters(),
    visitorsSketch: bytea('visitors_sketch').notNull(),
    /**
     * The month's distinct visitors as its sketch estimates them, written at
     * sealing: ranking a breakdown by visitors bounds each value with it
     * before merging any sketch (`query/top-visitors.ts`). Null in months
     * sealed before it existed; the worker seals those again.
     */
    visitorsEstimate: bigint('visitors_estimate', { mode: 'number' }),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.dimension, table.month, table.value] })],
);
