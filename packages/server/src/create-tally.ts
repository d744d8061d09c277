/**
 * Tally as a library (SPEC §14): `createTally(options)` builds the same app and
 * worker as the server (`services.ts` wires both), for a host app to mount
 * under a path of its own — `host.route('/_t', tally.app)` — so the tracker
 * and the collect endpoint are first-party on the host's origin, where ad
 * blockers do not look. `tally.fetch` serves the same routes to any framework
 * that hands over a web `Request` (a Next.js route handler, say).
 */
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConfigError, type Env, type envSchema, loadEnv } from './env.js';
import { loadTrackerScript } from './http/tracker.js';
import { createLogger } from './logger.js';
import type { QueueWorker } from './queue/types.js';
import { openServices, type Services } from './services.js';

/** The server's environment variables, by the same names, as `.env` would give them (strings). */
export type TallySettings = Partial<Record<keyof z.input<typeof envSchema>, string>>;

export interface TallyOptions {
  /**
   * The configuration, under the environment variables' names and checked by
   * the same schema (`DATABASE_URL`, `REDIS_URL`, `STATS_API_KEYS`, …). Nothing
   * is read from `process.env` unless you pass it here. With no database and no
   * Redis, Tally runs on the embedded default (PGlite under `TALLY_DATA_DIR`).
   */
  settings?: TallySettings;
  /** A PostgreSQL pool the host already has, instead of `DATABASE_URL`; with `redis`. Left open by `close()`. */
  db?: pg.Pool;
  /** A Redis client the host already has, instead of `REDIS_URL`; with `db`. Left open by `close()`. */
  redis?: Redis;
  /** Where Tally logs; a pino logger at `LOG_LEVEL` (default `info`) when absent. */
  logger?: Logger;
  /**
   * The path the host serves Tally under, for `tally.fetch` (which sees full
   * request paths); `app` is unprefixed and mounted with `host.route(path, tally.app)`.
   */
  basePath?: string;
  /** Where the tracker script is served, under the mount path. A name block lists do not know. */
  scriptPath?: string;
  /**
   * Route groups besides collection and the tracker: stats (`/api/stats`, `/api/query`, `/api/sites`),
   * operations (health, metrics) and the dashboard (`/`, `/dashboard/…`).
   */
  routes?: { stats?: boolean; operations?: boolean; dashboard?: boolean };
}

export interface Tally {
  /** The Hono app to mount: `host.route('/_t', tally.app)`. */
  app: Hono;
  /** A web-standard handler for the same routes, under `basePath`. */
  fetch(request: Request): Promise<Response>;
  /** Starts folding queued events here (and raw-event retention when set); run it in one or more processes. */
  startWorker(): QueueWorker;
  /** Resolves once the database is migrated and the queue connected (the app answers 503 until then). */
  ready(): Promise<void>;
  /** Stops the workers this Tally started and closes its own connections (never the host's `db` or `redis`). */
  close(): Promise<void>;
  /** The wired services, for tests and advanced use. */
  services: Services;
}

const DEFAULTS = {
  scriptPath: '/s.js',
  // A library inside someone else's app keeps its operator pages off unless asked for.
  settings: { SWAGGER_ENABLED: 'false' },
} as const;

function checkPath(name: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.includes('//')) {
    throw new ConfigError(`${name} must be a path such as /_t (got ${JSON.stringify(path)})`);
  }
  return path.replace(/\/+$/, '') || undefined;
}

/**
 * Builds a Tally to embed. Connections to PostgreSQL and Redis are made in
 * the background, so this resolves at once with either; the embedded default
 * opens its database first.
 *
 * @example
 * const tally = await createTally({ settings: { DATABASE_URL, REDIS_URL } });
 * host.route('/_t', tally.app);
 * tally.startWorker();
 */
export async function createTally(options: TallyOptions = {}): Promise<Tally> {
  let config: Env;
  try {
    config = loadEnv({ ...DEFAULTS.settings, ...options.settings });
  } catch (error) {
    throw error instanceof ConfigError ? error : new ConfigError(String(error));
  }
  const basePath = checkPath('basePath', options.basePath);
  const scriptPath = checkPath('scriptPath', options.scriptPath ?? DEFAULTS.scriptPath) ?? DEFAULTS.scriptPath;
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const services = await openServices(config, logger, {
    clients: { ...(options.db ? { pool: options.db } : {}), ...(options.redis ? { redis: options.redis } : {}) },
  });

  const app = services.createApp({
    trackerScript: loadTrackerScript(),
    trackerPath: scriptPath,
    ...(options.routes ? { routes: options.routes } : {}),
  });
  const mounted = basePath ? new Hono().route(basePath, app) : app;
  const workers: QueueWorker[] = [];
  const retentions: { stop(): Promise<void> }[] = [];

  return {
    app,
    fetch: async (request) => mounted.fetch(request),
    startWorker() {
      const worker = services.startWorker();
      const retention = services.startRetention();
      if (retention) retentions.push(retention);
      workers.push(worker);
      return worker;
    },
    ready: () => services.whenReady(),
    async close() {
      await Promise.all(workers.splice(0).map((worker) => worker.close()));
      await Promise.all(retentions.splice(0).map((retention) => retention.stop()));
      await services.close();
    },
    services,
  };
}
