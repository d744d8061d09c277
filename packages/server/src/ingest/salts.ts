/**
 * The daily-rotating secret behind cookieless visitor ids, kept in PostgreSQL
 * (`daily_salts`) so that every API instance, and the embedded default across a
 * restart, hashes a day's visitors with the same salt. An event is hashed with
 * the salt of its own UTC day, so an event stamped just before midnight and
 * sent just after it is the same visitor as the rest of that day. Salts are
 * kept for today and yesterday (the retention): an older event takes
 * yesterday's, a future-stamped one today's. Each process asks the database
 * once per salt; creating a day's salt deletes those older than yesterday.
 * Without a reachable database and no salt yet, ingestion answers 503 (the
 * client retries); with one, it carries on with that one.
 */
import { randomBytes } from 'node:crypto';
import { DAY_MS } from '@tally/shared';
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { DatabaseUnavailableError } from '../errors.js';

export interface SaltStore {
  /** Today's salt (UTC), from memory after the first call of the day. */
  current(now?: number): Buffer | Promise<Buffer>;
  /** The salt of UTC day `day` (YYYY-MM-DD), clamped to the days salts are kept for (yesterday, today). */
  forDay(day: string, now?: number): Buffer | Promise<Buffer>;
}

const dayOf = (time: number) => new Date(time - (time % DAY_MS)).toISOString().slice(0, 10);

async function loadSalt(db: Database, day: string, today: string): Promise<Buffer> {
  const fresh = randomBytes(32).toString('hex');
  for (let attempt = 0; attempt < 3; attempt++) {
    const rows = await queryRows<{ salt: string }>(
      db,
      sql`WITH inserted AS (
            INSERT INTO daily_salts (day, salt) VALUES (${day}::date, ${fresh})
            ON CONFLICT (day) DO NOTHING
            RETURNING salt
          ),
          expired AS (
            DELETE FROM daily_salts WHERE day < ${today}::date - 1
          )
          SELECT salt FROM inserted
          UNION ALL
          SELECT salt FROM daily_salts WHERE day = ${day}::date`,
    );
    // Empty only when another instance created the day's salt after this statement's snapshot: ask again.
    if (rows[0]) return Buffer.from(rows[0].salt, 'hex');
  }
  throw new Error(`could not read the salt of ${day}`);
}

/** After the database failed to give a salt, how long to keep using the last one before asking again. */
const RETRY_AFTER_FAILURE_MS = 5_000;

export function postgresSaltStore(db: Database): SaltStore {
  // At most two days: today's and yesterday's (older ones are dropped as days pass).
  const salts = new Map<string, Buffer>();
  let latest: Buffer | undefined;
  let retryAt = 0;
  const loading = new Map<string, Promise<Buffer>>();

  function forDay(requested: string, now = Date.now()): Buffer | Promise<Buffer> {
    const today = dayOf(now);
    const yesterday = dayOf(now - DAY_MS);
    const day = requested > today ? today : requested < yesterday ? yesterday : requested;
    const known = salts.get(day);
    if (known) return known;
    if (latest && now < retryAt) return latest;
    const pending = loading.get(day);
    if (pending) return pending;
    const load = loadSalt(db, day, today)
      .then(
        (loaded) => {
          for (const kept of salts.keys()) if (kept < yesterday) salts.delete(kept);
          salts.set(day, loaded);
          latest = loaded;
          return loaded;
        },
        (error: unknown) => {
          // The database is down as a new day starts: keep the last salt for a while rather than
          // refuse events (those visitors may count twice that day); with no salt at all, answer 503.
          retryAt = now + RETRY_AFTER_FAILURE_MS;
          if (latest) return latest;
          throw new DatabaseUnavailableError(error);
        },
      )
      .finally(() => loading.delete(day));
    loading.set(day, load);
    return load;
  }

  return { forDay, current: (now = Date.now()) => forDay(dayOf(now), now) };
}
