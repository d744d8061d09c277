/**
 * Chooses and wires the backing services of one Tally: PostgreSQL and Redis
 * (BullMQ) when `DATABASE_URL` is set, else the embedded default of SPEC §7
 * (PGlite and an in-process queue). It hands the batch processor to whichever
 * queue runs, and lets the worker's folds invalidate the answer caches. `main.ts`
 * serves what this builds; the tests and `createTally()` build it the same way.
 */
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { type AppDeps, createApp } from './app.js';
import { connectPostgres, type DatabaseHandle, usePool } from './db/client.js';
import { openEmbeddedDatabase } from './db/embedded.js';
import { migratePostgres } from './db/migrate.js';
import { backendOf, ConfigError, type Env } from './env.js';
import { DatabaseUnavailableError, isDatabaseConnectionError } from './errors.js';
import { openGeoDatabase } from './ingest/enrich.js';
import { type RateLimitStore, redisRateLimitStore } from './ingest/rate-limit.js';
import { createMetrics, type Metrics } from './metrics.js';
import { type AnswerCache, createAnswerCache } from './query/answer-cache.js';
import { createRedisConnection } from './queue/connection.js';
import { createBullEventsQueue, startBullWorker } from './queue/events-queue.js';
import { createInProcessQueue } from './queue/in-process-queue.js';
import { warnUnlessNoEviction } from './queue/redis-checks.js';
import type { BatchProcessor, EventQueue, JobWindow, QueueWorker } from './queue/types.js';
import { createJobWindow, fixedJobWindow } from './worker/job-window.js';
import { countParkedEvents } from './worker/park.js';
import { createBatchProcessor, FOLD_EVENTS_IN_FLIGHT } from './worker/processor.js';
import { type RefoldLoop, startRefolds } from './worker/refold.js';
import { startRetention } from './worker/retention.js';
import { startSealing } from './worker/sketches.js';

export interface WorkerOptions {
  /** Jobs taken at once; `WORKER_CONCURRENCY` when absent. */
  concurrency?: number;
  /** The database the worker folds into; the services' own when absent. */
  database?: DatabaseHandle;
  /** Replaces the real batch processor (tests that fail on purpose). */
  processor?: BatchProcessor;
  logger?: Logger;
}

/** One Tally's connections and the parts built on them. */
export interface Services {
  config: Env;
  logger: Logger;
  database: DatabaseHandle;
  /** Serves `/api/stats`: a read replica when `STATS_DATABASE_URL` is set. */
  statsDatabase: DatabaseHandle;
  queue: EventQueue;
  /** The BullMQ queue behind `queue`, for Bull Board; absent on the embedded default. */
  bullQueue?: Queue;
  metrics: Metrics;
  /** Answers of `/api/stats`, for `STATS_CACHE_MS`. */
  statsCache: AnswerCache;
  /** Answers of `POST /api/query`, for `QUERY_CACHE_MS`. */
  queryCache: AnswerCache;
  /** Resolves once the database is migrated and the queue connected (the app serves before that). */
  whenReady(): Promise<void>;
  /** The HTTP app on these services. */
  createApp(options?: Pick<AppDeps, 'trackerScript' | 'trackerPath' | 'routes'>): Hono;
  /** Starts taking jobs: folds into the database, counts in `metrics`, invalidates `statsCache` and `queryCache`. */
  startWorker(options?: WorkerOptions): QueueWorker;
  /** Deletes raw events past `RAW_RETENTION_DAYS` every hour; undefined when retention is off. */
  startRetention(): { stop(): Promise<void> } | undefined;
  /** After every worker has stopped: closes the queue and the databases. */
  close(): Promise<void>;
}

/** What differs between the two backends. */
interface Backend {
  database: DatabaseHandle;
  statsDatabase: DatabaseHandle;
  queue: EventQueue;
  bullQueue?: Queue;
  /** Redis counters shared by every instance; absent on the embedded default (counted in process). */
  rateLimitStore?: RateLimitStore;
  /** False until the schema is in place: until then nothing reads or folds. */
  isMigrated(): boolean;
  /** Resolves once the database is migrated and the queue connected. */
  whenReady(): Promise<void>;
  startQueueWorker(processor: BatchProcessor, jobWindow: JobWindow, logger: Logger): QueueWorker;
  close(): Promise<void>;
}

/** How long to wait between tries while PostgreSQL cannot be reached at startup. */
const RECONNECT_MAX_MS = 5_000;

/**
 * Migrates once PostgreSQL answers. An unreachable database is waited for (the
 * process serves meanwhile: `/readyz` says what is missing, ingestion answers
 * 503); anything else — no such database, a refused password, a failing
 * migration — is a configuration problem and rejects.
 */
async function migrateWhenReachable(target: string | pg.Pool, logger: Logger, stopped: () => boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migratePostgres(target);
      if (attempt > 1) logger.info('PostgreSQL is reachable: migrated, serving and folding');
      return;
    } catch (error) {
      if (!isDatabaseConnectionError(error) || stopped()) throw error;
      if (attempt === 1) {
        logger.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          'PostgreSQL is unreachable; serving anyway (/readyz answers 503) and retrying',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, RECONNECT_MAX_MS)));
    }
  }
}

/**
 * Nothing here waits for the network: PostgreSQL is migrated in the
 * background and Redis connects on its own, so the API listens at once
 * whichever service is still down, and picks each up when it comes.
 */
function connectPostgresAndRedis(
  config: Env,
  logger: Logger,
  onFatal: (error: unknown) => void,
  clients: Clients,
): Backend {
  let closed = false;
  let migrated = false;
  const migration = migrateWhenReachable(clients.pool ?? (config.DATABASE_URL as string), logger, () => closed).then(
    () => {
      migrated = true;
    },
    (error: unknown) => {
      if (!closed) onFatal(error);
      throw error;
    },
  );
  migration.catch(() => {}); // reported through onFatal; workers waiting on it just never start
  const timeouts = { statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS };
  const database = clients.pool
    ? usePool(clients.pool)
    : connectPostgres(config.DATABASE_URL as string, config.DATABASE_POOL_SIZE, timeouts);
  const statsDatabase = config.STATS_DATABASE_URL
    ? connectPostgres(config.STATS_DATABASE_URL, config.DATABASE_POOL_SIZE, timeouts)
    : database;

  // A host's own Redis client serves as the producer; Tally's connections are its own to close.
  const producer = clients.redis ?? createRedisConnection(config, 'producer');
  producer.once('ready', () => void warnUnlessNoEviction(producer, logger));
  const queue = createBullEventsQueue({ connection: producer, prefix: config.QUEUE_PREFIX, logger });
  const rateLimited = config.RATE_LIMIT_IP_PER_MINUTE > 0 || config.RATE_LIMIT_SITE_PER_MINUTE > 0;
  const limiter =
    rateLimited && config.ROLE !== 'worker' && !clients.redis ? createRedisConnection(config, 'limiter') : undefined;
  limiter?.on('error', () => {}); // the limiter fails open; the queue's own connection reports Redis errors
  const rateLimitRedis = limiter ?? (rateLimited ? clients.redis : undefined);
  return {
    database,
    statsDatabase,
    queue,
    bullQueue: queue.queue,
    ...(rateLimitRedis ? { rateLimitStore: redisRateLimitStore(rateLimitRedis) } : {}),
    isMigrated: () => migrated,
    whenReady: async () => {
      await Promise.all([migration, queue.queue.waitUntilReady()]);
    },
    startQueueWorker(processor, jobWindow, workerLogger) {
      // The worker folds into tables the migration makes: it starts once they exist.
      const started = migration.then(() =>
        closed
          ? undefined
          : startBullWorker({
              connection: clients.redis
                ? clients.redis.duplicate({ maxRetriesPerRequest: null, enableReadyCheck: false })
                : createRedisConnection(config, 'worker'),
              prefix: config.QUEUE_PREFIX,
              jobWindow,
              processor,
              logger: workerLogger,
              lockMs: config.JOB_LOCK_MS,
            }),
      );
      return {
        async close() {
          closed = true;
          const worker = await started.catch(() => undefined);
          await worker?.close();
        },
      };
    },
    async close() {
      closed = true;
      await queue.close();
      if (producer !== clients.redis) producer.disconnect();
      limiter?.disconnect();
      await database.close();
      if (statsDatabase !== database) await statsDatabase.close();
    },
  };
}

async function openEmbedded(config: Env, logger: Logger): Promise<Backend> {
  const database = await openEmbeddedDatabase(config.TALLY_DATA_DIR);
  const queue = createInProcessQueue({ logger });
  logger.info({ dataDir: database.dataDir }, 'embedded default: PGlite database and in-process queue');
  logger.warn(
    'Queued events are held in memory and are not durable across a crash (a clean stop drains them first). Set DATABASE_URL and REDIS_URL to run on PostgreSQL and Redis.',
  );
  return {
    database,
    statsDatabase: database,
    queue,
    isMigrated: () => true,
    whenReady: async () => {},
    startQueueWorker: (processor, jobWindow) => queue.startWorker({ processor, jobWindow }),
    async close() {
      await queue.close();
      await database.close();
    },
  };
}

/** Clients a host app already holds (Tally embedded, SPEC §14); Tally uses them and leaves them open. */
export interface Clients {
  pool?: pg.Pool;
  redis?: Redis;
}

export interface OpenOptions {
  /** Instead of `DATABASE_URL` and `REDIS_URL`: both, or neither. */
  clients?: Clients;
  /**
   * Called when PostgreSQL answers but cannot serve (no such database, a refused
   * password, a failing migration). `main.ts` prints it and exits 1.
   */
  onFatal?: (error: unknown) => void;
}

/**
 * Wires the services `config` names. PostgreSQL and Redis are connected in the
 * background (see `connectPostgresAndRedis`); the embedded database opens here.
 */
export async function openServices(
  config: Env,
  logger: Logger,
  { onFatal, clients = {} }: OpenOptions = {},
): Promise<Services> {
  const fatal = onFatal ?? ((error: unknown) => logger.error({ err: error }, 'Tally cannot use its database'));
  if (Boolean(clients.pool) !== Boolean(clients.redis)) {
    throw new ConfigError('Pass both a PostgreSQL pool and a Redis client, or neither (the embedded default).');
  }
  const backend =
    clients.pool || backendOf(config) === 'services'
      ? connectPostgresAndRedis(config, logger, fatal, clients)
      : await openEmbedded(config, logger);
  const { database, statsDatabase, queue } = backend;
  // Opened once: a missing or unreadable file stops startup naming the variable.
  const geoip = config.GEOIP_DATABASE
    ? await openGeoDatabase(config.GEOIP_DATABASE).catch((error: Error) => {
        throw new ConfigError(`GEOIP_DATABASE: cannot open ${config.GEOIP_DATABASE}: ${error.message}`);
      })
    : undefined;
  const metrics = createMetrics({ queue, countParked: () => countParkedEvents(database.db) });
  const visitRules = { timeoutMinutes: config.VISIT_TIMEOUT_MINUTES, lateEventHours: config.LATE_EVENT_HOURS };
  const refoldLoops = new Set<RefoldLoop>();
  /**
   * Starts a background loop once the tables it reads exist: on a fresh database the migration
   * may still be running when the worker starts (as the queue worker, which also waits for it).
   */
  function afterMigration<Loop extends { stop(): Promise<void> }>(start: () => Loop) {
    let stopped = false;
    const started = backend.whenReady().then(
      () => (stopped ? undefined : start()),
      () => undefined, // a failed migration stops startup elsewhere
    );
    return {
      started,
      async stop() {
        stopped = true;
        await (await started)?.stop();
      },
    };
  }
  const statsCache = createAnswerCache({ ttlMs: config.STATS_CACHE_MS });
  const queryCache = createAnswerCache({ ttlMs: config.QUERY_CACHE_MS });
  /** A fold or re-fold committed: what was cached about these sites is stale. */
  const changed = (siteIds: ReadonlySet<string>) => {
    statsCache.invalidateSites(siteIds);
    queryCache.invalidateSites(siteIds);
  };

  return {
    config,
    logger,
    database,
    statsDatabase,
    queue,
    ...(backend.bullQueue ? { bullQueue: backend.bullQueue } : {}),
    metrics,
    statsCache,
    queryCache,
    whenReady: () => backend.whenReady(),
    createApp: (options = {}) =>
      createApp({
        ...options,
        statsDb: statsDatabase.db,
        pingDatabase: async () => {
          if (!backend.isMigrated()) throw new DatabaseUnavailableError();
          await statsDatabase.ping();
        },
        databaseReady: backend.isMigrated,
        queue,
        config,
        logger,
        metrics,
        statsCache,
        queryCache,
        bullQueue: backend.bullQueue,
        db: database.db,
        onTimeZoneChanged: () => {
          for (const loop of refoldLoops) loop.kick();
        },
        ...(geoip ? { geoip } : {}),
        ...(backend.rateLimitStore ? { rateLimitStore: backend.rateLimitStore } : {}),
      }),
    startWorker({
      concurrency = config.WORKER_CONCURRENCY,
      database: workerDatabase = database,
      processor,
      logger: workerLogger = logger,
    } = {}) {
      // At least `concurrency` jobs at once, more when they are small, so that folds stay large.
      const jobWindow = processor ? fixedJobWindow(concurrency) : createJobWindow(concurrency, FOLD_EVENTS_IN_FLIGHT);
      const folds =
        processor ??
        createBatchProcessor({
          db: workerDatabase.db,
          logger: workerLogger,
          jobWindow,
          onParked: (event) => metrics.onParked(event),
          visitRules,
          onFolded: (result, folded) => {
            metrics.onFolded(result, folded);
            changed(folded.sites);
          },
        });
      const queueWorker = backend.startQueueWorker(metrics.instrumentProcessor(folds), jobWindow, workerLogger);
      // Time-zone re-folds run beside the folds, in every worker process (one at a time per site: the site lock).
      const refolds = afterMigration(() => {
        const loop = startRefolds({
          db: workerDatabase.db,
          rules: visitRules,
          logger: workerLogger,
          onRefolded: (siteId) => changed(new Set([siteId])),
        });
        refoldLoops.add(loop);
        return loop;
      });
      // Days no on-time event can reach get their visitor sketches.
      const sealing = afterMigration(() =>
        startSealing({ db: workerDatabase.db, rules: visitRules, logger: workerLogger }),
      );
      return {
        async close() {
          await queueWorker.close();
          const loop = await refolds.started;
          if (loop) refoldLoops.delete(loop);
          await Promise.all([refolds.stop(), sealing.stop()]);
        },
      };
    },
    startRetention: () =>
      config.RAW_RETENTION_DAYS > 0
        ? afterMigration(() => startRetention({ db: database.db, days: config.RAW_RETENTION_DAYS, logger }))
        : undefined,
    close: () => backend.close(),
  };
}
