/**
 * Parking: where an event goes that PostgreSQL refuses on its data, so that it
 * neither fails its neighbours nor is retried forever (see `processor.ts`).
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { parkedEvents } from '../db/schema/index.js';
import type { QueuedEvent } from '../queue/types.js';

/** Text PostgreSQL can hold whatever it was: no NUL, and not so long that the row is unwieldy. */
const storableText = (value: unknown, max: number) => String(value).replaceAll('\u0000', '\\u0000').slice(0, max);

export async function parkEvent(db: Database, event: QueuedEvent, error: unknown, sqlState: string): Promise<void> {
  const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : error;
  await db.execute(sql`
    INSERT INTO ${parkedEvents} (event_id, event, error, sql_state)
    VALUES (${storableText(event.eventId, 200)}, ${JSON.stringify(event)}::json, ${storableText(message, 2_000)}, ${sqlState})`);
}

/** How many events wait in `parked_events`, for `/metrics`. */
export async function countParkedEvents(db: Database): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${parkedEvents}`);
  return Number(row?.n ?? 0);
}
