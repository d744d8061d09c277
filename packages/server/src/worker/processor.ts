/**
 * The batch processor both queues run: fold the job's events, retrying in
 * place when PostgreSQL picks this transaction as a deadlock or serialization
 * victim (cheaper than a queue retry with its 2 s backoff). An unreachable
 * database becomes a `DatabaseUnavailableError`, which the queues answer by
 * putting the job back without spending an attempt. Any other failure
 * propagates, and the queue retries the whole job — safe, because the fold is
 * exactly-once.
 */
import type { QueuedEvent } from '@tally/shared';
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import { DatabaseUnavailableError, isDatabaseConnectionError } from '../errors.js';
import type { FoldResult } from './fold-batch.js';
import { foldBatch } from './fold-batch.js';

const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const IN_PLACE_ATTEMPTS = 5;

function sqlState(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } };
  const code = candidate?.code ?? candidate?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface ProcessorOptions {
  db: Database;
  logger: Logger;
  /** Called after each fold, for metrics. */
  onFolded?: (result: FoldResult, events: readonly QueuedEvent[]) => void;
}

export function createBatchProcessor({ db, logger, onFolded }: ProcessorOptions) {
  return async function processBatch(events: QueuedEvent[]): Promise<FoldResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await foldBatch(db, events);
        onFolded?.(result, events);
        return result;
      } catch (error) {
        if (isDatabaseConnectionError(error)) throw new DatabaseUnavailableError(error);
        const state = sqlState(error);
        if (attempt >= IN_PLACE_ATTEMPTS || state === undefined || !RETRYABLE_SQLSTATES.has(state)) throw error;
        logger.warn({ sqlState: state, attempt }, 'fold lost a lock race; retrying in place');
      }
    }
  };
}
