/**
 * Test wiring: every test file gets its own PostgreSQL database and its own
 * BullMQ prefix on the real services, and drops both afterwards, so runs never
 * see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Logger, pino } from 'pino';
import { connectPostgres, type DatabaseHandle } from '../src/db/client.js';
import { migratePostgres } from '../src/db/migrate.js';
import { type Env, loadEnv } from '../src/env.js';
import type { BatchProcessor, EventQueue, EventsJobData, QueueWorker } from '../src/queue/types.js';
import { openServices, type Services } from '../src/services.js';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const silentLogger = pino({ level: 'silent' });

/** A small seeded generator (mulberry32): numbers in [0, 1), the same for a seed, so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniqueName(kind: string): string {
  return `tally_${kind}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('test');
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  await migratePostgres(url.toString());
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export function uniqueQueuePrefix(): string {
  return `{${uniqueName('q')}}`;
}

/** Deletes every Redis key under `prefix`. */
export async function deleteQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

export function testConfig(overrides: Record<string, string> = {}): Env {
  // Tests drive the stack from headless Chromium, which the bot filter drops; its own tests turn it on.
  return loadEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: TEST_REDIS_URL,
    BOT_FILTER: 'false',
    ...overrides,
  });
}

export interface TestStack {
  app: Hono;
  services: Services;
  database: DatabaseHandle;
  testDatabase: TestDatabase;
  queue: EventQueue & { queue: Queue<EventsJobData> };
  prefix: string;
  config: Env;
  /**
   * Starts a worker with its own connection pool on this stack's queue;
   * `startTestStack` starts one unless `worker: false`. `databaseUrl` lets a
   * test route the worker through a proxy it controls.
   */
  startWorker(options?: { concurrency?: number; databaseUrl?: string; logger?: Logger }): QueueWorker;
  /** Resolves once nothing is waiting, delayed or active on the queue. */
  drain(timeoutMs?: number): Promise<void>;
  /** The rows of a query against this stack's database. */
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/** A Tally on its own database and queue prefix, wired by `services.ts` as `main.ts` wires it. */
export async function startTestStack(
  options: {
    worker?: boolean;
    env?: Record<string, string>;
    /** Replaces the real batch processor, e.g. to fail on purpose. */
    processor?: BatchProcessor;
  } = {},
): Promise<TestStack> {
  const testDatabase = await createTestDatabase();
  const prefix = uniqueQueuePrefix();
  const config = testConfig({ DATABASE_URL: testDatabase.url, QUEUE_PREFIX: prefix, ...options.env });
  const services = await openServices(config, silentLogger);
  await services.whenReady();
  const queue = services.queue as TestStack['queue'];
  const workers: QueueWorker[] = [];
  const pool = new pg.Pool({ connectionString: testDatabase.url, max: 2 });
  // Dropping the test database (WITH FORCE) ends this pool's connections; that is teardown, not a failure.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));

  const stack: TestStack = {
    app: services.createApp(),
    services,
    database: services.database,
    testDatabase,
    queue,
    prefix,
    config,
    startWorker({ concurrency = config.WORKER_CONCURRENCY, databaseUrl, logger = silentLogger } = {}) {
      const workerDatabase = databaseUrl ? connectPostgres(databaseUrl, concurrency) : undefined;
      const queueWorker = services.startWorker({
        concurrency,
        logger,
        ...(workerDatabase ? { database: workerDatabase } : {}),
        ...(options.processor ? { processor: options.processor } : {}),
      });
      const worker: QueueWorker = {
        async close() {
          await queueWorker.close();
          await workerDatabase?.close();
        },
      };
      workers.push(worker);
      return worker;
    },
    async drain(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const counts = await queue.counts();
        if (counts.waiting + counts.active + counts.delayed === 0) return;
        if (Date.now() > deadline) throw new Error(`queue did not drain: ${JSON.stringify(counts)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async query<Row>(text: string, values: unknown[] = []) {
      const result = await pool.query(text, values);
      return result.rows as Row[];
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      await services.close();
      await pool.end();
      await deleteQueueKeys(prefix);
      await testDatabase.drop();
    },
  };
  if (options.worker !== false) stack.startWorker();
  return stack;
}

/** POSTs JSON to the app the way curl does in the original design. */
export function postJson(
  app: TestStack['app'],
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

export function pageView(overrides: Record<string, unknown> = {}) {
  return { siteId: 'test_site', eventType: 'page_view', path: '/', timestamp: '2024-11-14T10:00:00Z', ...overrides };
}

/**
 * A TCP proxy in front of PostgreSQL (or Redis) that a test can cut and
 * restore, to make the service really unreachable for the connections that go
 * through it; or keep connected but silent: `silence()` swallows every byte
 * (a hung server), `pause()` holds them back until `resume()` (a slow one,
 * whose writes land late).
 */
export async function startTcpProxy(target = { host: '127.0.0.1', port: 5432 }) {
  const sockets = new Set<Socket>();
  let open = true;
  let mode: 'forward' | 'silent' | 'paused' = 'forward';
  const held: (() => void)[] = [];
  const relay = (from: Socket, to: Socket) =>
    from.on('data', (chunk: Buffer) => {
      if (mode === 'silent') return;
      if (mode === 'paused') held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** `databaseUrl` with its host and port replaced by the proxy's. */
    urlFor(databaseUrl: string) {
      const url = new URL(databaseUrl);
      url.host = `127.0.0.1:${port}`;
      return url.toString();
    },
    cut() {
      open = false;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      open = true;
      mode = 'forward';
    },
    /** Connections stay open, but nothing gets through either way, ever. */
    silence() {
      mode = 'silent';
    },
    /** Connections stay open; bytes wait in the proxy until `resume()`. */
    pause() {
      mode = 'paused';
    },
    resume() {
      mode = 'forward';
      for (const deliver of held.splice(0)) deliver();
    },
    async close() {
      this.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A response body as a plain object, for assertions. */
export async function jsonOf(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** A logger that keeps what it is given, so a test can assert on warnings. */
export function recordingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}
