/**
 * Events no fold can ever take (PostgreSQL refuses their data), parked one by
 * one with the reason, so that the events that shared their job or fold are
 * counted and an operator can see, fix or drop each bad one
 * (docs/operations.md). `event` is `json`, not `jsonb`: it keeps what jsonb
 * would refuse (a NUL escape), which may be why the event is here.
 */
import { bigserial, index, json, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const parkedEvents = pgTable(
  'parked_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** The event's id as it was queued (text: it may be the very thing that is wrong). */
    eventId: text('event_id'),
    /** The event as it was queued. */
    event: json('event').notNull(),
    /** PostgreSQL's message. */
    error: text('error').notNull(),
    /** Its SQLSTATE, e.g. 54000 (index row too large), 22P02 (invalid text for the type). */
    sqlState: text('sql_state'),
    parkedAt: timestamp('parked_at', { withTimezone: true }).defaultNow().notNull(),
  },
  (table) => [index('idx_parked_events_parked_at').on(table.parkedAt)],
);
