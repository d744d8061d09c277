/**
 * The one place that reads the environment (SPEC §5). Values come from the
 * process environment, then `.env.local`, then `.env` (earlier wins), and are
 * checked once: a bad value stops startup with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { LIMITS } from '@tally/shared';
import { z } from 'zod';

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((value) => (value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value)));

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** A limit where 0 means off. */
const limit = z.coerce.number().int().min(0).default(0);

/**
 * How many proxies in front of the server to believe: `false` (default) uses
 * the socket address and ignores `X-Forwarded-For`; a number N takes the Nth
 * address from the right of `X-Forwarded-For` (N proxies, each appending the
 * address it saw); `true` takes the leftmost (any number of proxies, all
 * trusted — only safe when nothing can reach the server except through them).
 */
const trustProxy = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const setting = (value ?? '').trim().toLowerCase();
    if (setting === '' || setting === 'false') return 0;
    if (setting === 'true') return Number.POSITIVE_INFINITY;
    if (/^\d+$/.test(setting)) return Number(setting);
    ctx.addIssue({ code: 'custom', message: 'must be true, false or a number of proxy hops' });
    return z.NEVER;
  });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  STATS_DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATABASE_POOL_SIZE: positiveInt(12),
  /** PostgreSQL cancels a statement after this long; the stats API then answers 503. */
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt(30_000),

  REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  REDIS_HOST: optionalString,
  REDIS_PORT: z.coerce.number().int().min(1).max(65535).default(6379),
  REDIS_DB: z.coerce.number().int().min(0).default(0),
  REDIS_PASSWORD: optionalString,
  /** TLS for the REDIS_HOST form; a `rediss://` REDIS_URL needs no flag. */
  REDIS_TLS: flag(false),
  QUEUE_PREFIX: z.string().min(1).default('{tally}'),
  WORKER_CONCURRENCY: positiveInt(10),
  /** How long a worker's job lock lasts: a killed worker's jobs run again within about twice this. */
  JOB_LOCK_MS: positiveInt(30_000),
  /** Where the embedded default keeps its database (relative to the working directory). */
  TALLY_DATA_DIR: z.string().min(1).default('.tally'),
  /** `ROLE=worker` serves /healthz, /readyz and /metrics on this port; other roles use PORT. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),

  BODY_LIMIT: positiveInt(LIMITS.bodyMaxBytes),
  COOKIE_DOMAIN: optionalString,
  COOKIE_CROSS_SITE: flag(false),
  ALLOWED_ORIGINS: list,
  STATS_CORS_ORIGINS: list,
  /** How long a `/api/stats` answer may be reused when no fold in this process changed it; 0 turns the cache off. */
  STATS_CACHE_MS: z.coerce.number().int().min(0).default(1_000),
  /** The same for `POST /api/query` answers (never `realtime`); 0 turns that cache off. */
  QUERY_CACHE_MS: z.coerce.number().int().min(0).default(1_000),

  SWAGGER_ENABLED: flag(true),
  SWAGGER_USER: optionalString,
  SWAGGER_PASSWORD: optionalString,
  BULL_BOARD_USER: optionalString,
  BULL_BOARD_PASSWORD: optionalString,

  /** Bearer keys for `/api/stats`, comma-separated; empty leaves the stats open. */
  STATS_API_KEYS: list,
  /** Ingestion requests per minute per client IP; 0 turns the limit off. */
  RATE_LIMIT_IP_PER_MINUTE: limit,
  /** Ingested events per minute per siteId; 0 turns the limit off. */
  RATE_LIMIT_SITE_PER_MINUTE: limit,
  TRUST_PROXY: trustProxy,
  /** Drop events whose User-Agent is a known bot (answered 202, never stored). */
  BOT_FILTER: flag(true),
  /** `cookie`: first-party visitor_id cookie. `cookieless`: a daily-salted hash of site, IP and User-Agent. */
  VISITOR_ID_MODE: z.enum(['cookie', 'cookieless']).default('cookie'),
  /** Raw events older than this many days are deleted (aggregates stay); 0 keeps them forever. */
  RAW_RETENTION_DAYS: limit,
  /** Bearer token for the sites API's writes (`PUT`/`DELETE /api/sites/:siteId`); unset refuses every write. */
  ADMIN_API_KEY: optionalString,
  /** A MaxMind-format database (DB-IP Lite or GeoLite2 Country/City `.mmdb`) for country, region and city. */
  GEOIP_DATABASE: optionalString,
  /** A visit ends after this many minutes without an event (SPEC §11). */
  VISIT_TIMEOUT_MINUTES: positiveInt(30),
  /** Events received up to this many hours after their timestamp still shape visits; later ones only count as events. */
  LATE_EVENT_HOURS: z.coerce.number().int().min(0).default(48),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Which backing services this configuration runs on: PostgreSQL and Redis when
 * both are set; the embedded default (PGlite + an in-process queue, SPEC §7)
 * when neither is. Half a configuration is refused rather than guessed at: a
 * real database behind a queue that forgets on crash, or a Redis queue whose
 * events land in a local file, is never what someone who set one of them meant.
 */
export function backendOf(env: Env): 'services' | 'embedded' {
  const database = env.DATABASE_URL !== undefined;
  const redis = env.REDIS_URL !== undefined || env.REDIS_HOST !== undefined;
  if (database && redis) return 'services';
  if (database) {
    throw new ConfigError(
      'DATABASE_URL is set but Redis is not: set REDIS_URL (or REDIS_HOST) as well, or unset DATABASE_URL to run on the embedded default.',
    );
  }
  if (redis) {
    throw new ConfigError(
      'REDIS_URL/REDIS_HOST is set but DATABASE_URL is not: set DATABASE_URL as well, or unset the Redis settings to run on the embedded default.',
    );
  }
  if (env.STATS_DATABASE_URL !== undefined) {
    throw new ConfigError(
      'STATS_DATABASE_URL needs DATABASE_URL and REDIS_URL (it names a read replica of DATABASE_URL).',
    );
  }
  if (env.ROLE !== 'all') {
    throw new ConfigError(
      `ROLE=${env.ROLE} needs DATABASE_URL and REDIS_URL: the embedded default runs the API and the worker in one process.`,
    );
  }
  return 'embedded';
}

/** Reads `.env.local` then `.env` from `dir`, never overriding what the process already has. */
export function readDotenvFiles(dir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = {};
  for (const file of ['.env', '.env.local']) {
    const path = resolve(dir, file);
    if (existsSync(path)) Object.assign(merged, parseEnv(readFileSync(path, 'utf8')));
  }
  return { ...merged, ...env };
}

/** Parses and checks the configuration; throws a `ConfigError` naming every bad variable. */
export function loadEnv(env: NodeJS.ProcessEnv = readDotenvFiles(process.cwd(), process.env)): Env {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}
