/**
 * The daily-rotating secret behind cookieless visitor ids, kept in PostgreSQL
 * (`daily_salts`) so that every API instance, and the embedded default across a
 * restart, hashes a day's visitors with the same salt. Each process asks the
 * database once per UTC day; creating a day's salt deletes those older than
 * yesterday. Without a reachable database and no salt yet, ingestion answers
 * 503 (the client retries); with one, it carries on with that one.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { DatabaseUnavailableError } from '../errors.js';

const DAY_MS = 86_400_000;

export interface SaltStore {
  /** Today's salt (UTC), from memory after the first call of the day. */
  current(now?: number): Buffer | Promise<Buffer>;
}

async function loadSalt(db: Database, day: string): Promise<Buffer> {
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
            DELETE FROM daily_salts WHERE day < ${day}::date - 1
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
  let salt: Buffer | undefined;
  let validUntil = 0;
  let retryAt = 0;
  let loading: Promise<Buffer> | undefined;
  return {
    current(now = Date.now()) {
      if (salt && (now < validUntil || now < retryAt)) return salt;
      if (loading) return loading;
      const dayStart = now - (now % DAY_MS);
      const day = new Date(dayStart).toISOString().slice(0, 10);
      loading = loadSalt(db, day)
        .then(
          (loaded) => {
            salt = loaded;
            validUntil = dayStart + DAY_MS;
            return loaded;
          },
          (error: unknown) => {
            // The database is down as a new day starts: keep yesterday's salt for a while rather than
            // refuse events (those visitors may count twice today); with no salt at all, answer 503.
            retryAt = now + RETRY_AFTER_FAILURE_MS;
            if (salt) return salt;
            throw new DatabaseUnavailableError(error);
          },
        )
        .finally(() => {
          loading = undefined;
        });
      return loading;
    },
  };
}
