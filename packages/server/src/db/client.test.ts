/**
 * `queryPrepared`: inside a transaction on a pg connection a statement is
 * prepared once per connection and run by name after that; anywhere else it
 * runs as a plain query.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type Database, type DatabaseHandle, queryPrepared, queryRows } from './client.js';

describe('queryPrepared', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    database = await createTestDatabase();
    handle = connectPostgres(database.url, 1);
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  const doubled = (n: number) => sql`SELECT ${n}::int * 2 AS twice`;
  const prepared = (tx: Database) =>
    queryRows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'tally_%'`);

  it('prepares a statement once on its connection, then runs it by name with new values', async () => {
    // One connection in the pool: both transactions run on it.
    for (const n of [1, 2]) {
      await handle.db.transaction(async (transaction) => {
        const tx = transaction as unknown as Database;
        expect(await queryPrepared<{ twice: number }>(tx, doubled(n))).toEqual([{ twice: n * 2 }]);
        expect(await queryPrepared<{ twice: number }>(tx, doubled(n + 10))).toEqual([{ twice: (n + 10) * 2 }]);
        expect(await prepared(tx)).toEqual([{ n: 1 }]);
      });
    }
  });

  it('runs as a plain query outside a transaction', async () => {
    expect(await queryPrepared<{ twice: number }>(handle.db, doubled(4))).toEqual([{ twice: 8 }]);
  });
});
