/**
 * `npm run jobs:retry -w @tally/server`: moves every job in the failed set of
 * `analytics-events` back to waiting, with fresh attempts, and exits. Safe to
 * run at any time: the fold is exactly-once, so events of a retried job that
 * were stored already are not counted again. Bull Board's "Retry" button does
 * the same for one job (docs/operations.md).
 */
import { EVENTS_QUEUE_NAME } from '@tally/shared';
import { Queue } from 'bullmq';
import { loadEnv } from '../env.js';
import { createRedisConnection } from './connection.js';

const env = loadEnv();
if (!env.REDIS_URL && !env.REDIS_HOST) {
  console.error('REDIS_URL (or REDIS_HOST) is not set: the embedded default keeps failed jobs in memory only.');
  process.exit(1);
}
const connection = createRedisConnection(env, 'worker');
const queue = new Queue(EVENTS_QUEUE_NAME, { connection, prefix: env.QUEUE_PREFIX });
try {
  const failed = await queue.getFailedCount();
  await queue.retryJobs({ state: 'failed', count: 1_000 });
  console.log(`${failed} failed job(s) moved back to waiting`);
} finally {
  await queue.close();
  connection.disconnect();
}
