/**
 * One Tally per server process, made on first use. The route handler under
 * `app/%5Ft/[...path]/route.ts` hands it every request to `/_t/*`.
 */
import { createTally, type Tally } from '@tally/server';

let tally: Promise<Tally> | undefined;

export function getTally(): Promise<Tally> {
  tally ??= createTally({
    basePath: '/_t',
    settings: {
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      QUEUE_PREFIX: process.env.QUEUE_PREFIX,
      STATS_API_KEYS: process.env.STATS_API_KEYS,
      TALLY_DATA_DIR: process.env.TALLY_DATA_DIR,
    },
  }).then((created) => {
    // In a serverless deployment run the worker elsewhere (`ROLE=worker npm start` on the same services).
    if (process.env.TALLY_WORKER !== 'off') created.startWorker();
    return created;
  });
  return tally;
}
