/**
 * The visitor ledger: a row exists once a visitor was seen on a site that UTC
 * day. Its unique key is what makes `unique_users` count each visitor once.
 */
import { date, pgTable, text, unique } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDailyUniqueUsers = pgTable(
  'site_daily_unique_users',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    userId: text('user_id'),
    visitorId: keyText('visitor_id'),
  },
  // The unique index also serves (site_id, date) look-ups, so the original's extra index is left out.
  (table) => [unique('unq_site_date_visitor').on(table.siteId, table.date, table.visitorId).nullsNotDistinct()],
);
