/** One row per site and UTC day: every event counted, every visitor once. */
import { bigint, date, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDailyAggregates = pgTable(
  'site_daily_aggregates',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    totalViews: bigint('total_views', { mode: 'number' }).notNull().default(0),
    uniqueUsers: bigint('unique_users', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date] })],
);
