/**
 * The database handle the app and the worker share. Everything above this file
 * sees a drizzle database over PostgreSQL, whichever driver sits below.
 */
import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { isDatabaseConnectionError } from '../errors.js';
import * as schema from './schema/index.js';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Runs a raw `sql` query and returns its rows, whichever driver answers. */
export async function queryRows<Row>(db: Database, query: SQL): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as { rows: Row[] };
  return result.rows;
}

/** The pg client under each transaction `usePool` opened: prepared statements live on a connection. */
const transactionClients = new WeakMap<object, pg.PoolClient>();
/** The pool under each database `usePool` made, for `forEachRow` outside a transaction. */
const databasePools = new WeakMap<object, pg.Pool>();

const dialect = new PgDialect();

/**
 * Runs a raw `sql` query as a named prepared statement when `tx` is a
 * transaction on a pg connection, so PostgreSQL parses a large statement once
 * per connection rather than at every call (with `plan_cache_mode` set, it
 * plans it once too); elsewhere (PGlite) as `queryRows` does. The name is the
 * text's hash: one text, one statement.
 */
export async function queryPrepared<Row>(tx: Database, query: SQL): Promise<Row[]> {
  const client = transactionClients.get(tx);
  if (!client) return queryRows<Row>(tx, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  const name = `tally_${createHash('sha1').update(text).digest('base64url')}`;
  const result = await client.query<Row & pg.QueryResultRow>({ name, text, values: params });
  return result.rows;
}

/**
 * Runs a raw `sql` query and hands its rows to `onRow` as they arrive, keeping none: for answers of
 * megabytes (a range's visitor sketches), which, held until the last row came, would outlive V8's
 * young-generation collections and fill its old generation (a full collection every few answers, whose
 * pauses land on other requests). Over PGlite, the rows of the whole answer, one by one.
 */
export async function forEachRow<Row>(db: Database, query: SQL, onRow: (row: Row) => void): Promise<void> {
  const client = transactionClients.get(db);
  const pool = databasePools.get(db);
  if (!client && !pool) {
    for (const row of await queryRows<Row>(db, query)) onRow(row);
    return;
  }
  const { sql: text, params } = dialect.sqlToQuery(query);
  const connection = client ?? (await (pool as pg.Pool).connect());
  let broken: Error | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const failure: { error?: unknown } = {};
      const submitted = new pg.Query({
        text,
        values: params,
        callback: (error: Error | null) => {
          if (error) reject(error);
          else if ('error' in failure) reject(failure.error);
          else resolve();
        },
      } as pg.QueryConfig);
      submitted.on('row', (row: Row) => {
        if ('error' in failure) return;
        try {
          onRow(row);
        } catch (error) {
          failure.error = error;
        }
      });
      keepNoRows(submitted);
      connection.query(submitted);
    });
  } catch (error) {
    if (isDatabaseConnectionError(error)) broken = error as Error;
    throw error;
  } finally {
    if (!client) (connection as pg.PoolClient).release(broken);
  }
}

/**
 * pg adds each row to the query's result as well as emitting it whenever a callback waits for the result
 * (as it always does here: the pool's read timeout installs one). It decides when the row description
 * arrives; this query's rows went to `onRow`, so it decides again: keep none.
 */
function keepNoRows(query: pg.Query): void {
  const internals = query as unknown as { handleRowDescription(message: unknown): void; _accumulateRows: unknown };
  const describe = internals.handleRowDescription.bind(query);
  internals.handleRowDescription = (message) => {
    describe(message);
    internals._accumulateRows = false;
  };
}

export interface DatabaseHandle {
  db: Database;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How long one statement may run before PostgreSQL cancels it (`DATABASE_STATEMENT_TIMEOUT_MS`). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * Every wait on PostgreSQL is bounded, so a database that hangs (or a network
 * that silently drops its packets) answers 503 instead of holding requests:
 * connecting takes at most 5 s; PostgreSQL cancels a statement after
 * `statementTimeoutMs` (SQLSTATE 57014); and should the server itself be
 * silent, the client gives up 2 s later ("Query read timeout", which counts as
 * unreachable). TCP keepalive finds dead connections that sit idle in the pool.
 */
export function connectPostgres(
  url: string,
  poolSize: number,
  { statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS }: { statementTimeoutMs?: number } = {},
): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 2_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client losing its connection must not take the process down; the pool replaces it.
  pool.on('error', () => {});
  // Nor may a checked-out one that is between statements (a transaction awaiting its next step): pg emits
  // the loss on the client itself then. The transaction's next statement fails with it, and the pool
  // drops the dead client on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return { ...usePool(pool), close: () => pool.end() };
}

/** A database handle over a pool someone else owns (a host app embedding Tally): closing it leaves the pool open. */
export function usePool(pool: pg.Pool): DatabaseHandle {
  const db = drizzle({ client: pool, schema }) as unknown as Database;
  db.transaction = (run, config) => transactionOnOwnClient(pool, run, config);
  databasePools.set(db, pool);
  return {
    db,
    async ping() {
      await pool.query('select 1');
    },
    async close() {},
  };
}

/**
 * A transaction on a client checked out here and released whatever happens.
 * drizzle's own pool transaction (0.45) releases its client only once BEGIN
 * has succeeded: a connection lost at BEGIN kept the client checked out for
 * good, so each database outage shrank the pool until the worker, and
 * `pool.end()`, waited forever. A client whose connection failed is released
 * with the error, so the pool drops it instead of lending it again.
 */
async function transactionOnOwnClient<Result>(
  pool: pg.Pool,
  run: Parameters<Database['transaction']>[0],
  config: Parameters<Database['transaction']>[1],
): Promise<Result> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // No `schema`: nothing here uses relational queries, and reading the schema costs ~90 µs a time.
    const onClient = drizzle({ client }) as unknown as Database;
    return (await onClient.transaction((tx) => {
      transactionClients.set(tx, client);
      return run(tx);
    }, config)) as Result;
  } catch (error) {
    if (isDatabaseConnectionError(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}
