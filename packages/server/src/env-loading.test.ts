import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv, readDotenvFiles } from './env.js';

describe('loadEnv', () => {
  it('applies the documented defaults', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      ROLE: 'all',
      QUEUE_PREFIX: '{tally}',
      WORKER_CONCURRENCY: 10,
      BODY_LIMIT: 65_536,
      REDIS_PORT: 6379,
      SWAGGER_ENABLED: true,
      COOKIE_CROSS_SITE: false,
      ALLOWED_ORIGINS: [],
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('parses flags and lists', () => {
    const env = loadEnv({
      COOKIE_CROSS_SITE: 'true',
      SWAGGER_ENABLED: 'false',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(env.COOKIE_CROSS_SITE).toBe(true);
    expect(env.SWAGGER_ENABLED).toBe(false);
    expect(env.ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
  });

  it('stops with a message naming every bad variable', () => {
    const load = () => loadEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ROLE: 'boss', WORKER_CONCURRENCY: '0' });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'ROLE', 'WORKER_CONCURRENCY']) expect(message).toContain(`${name}:`);
    }
  });
});

describe('readDotenvFiles', () => {
  it('takes the process environment over .env.local over .env', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-env-'));
    writeFileSync(join(dir, '.env'), 'PORT=1000\nLOG_LEVEL=debug\nQUEUE_PREFIX={from-env}\n');
    writeFileSync(join(dir, '.env.local'), 'PORT=2000\nLOG_LEVEL=warn\n');
    const merged = readDotenvFiles(dir, { PORT: '3000' });
    expect(merged).toMatchObject({ PORT: '3000', LOG_LEVEL: 'warn', QUEUE_PREFIX: '{from-env}' });
  });

  it('is happy with neither file present', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-env-'));
    expect(readDotenvFiles(dir, { A: '1' })).toEqual({ A: '1' });
  });
});
