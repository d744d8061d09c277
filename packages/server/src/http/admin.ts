/**
 * `/api/queues/admin`: Bull Board over the BullMQ queue, to look at waiting,
 * delayed and failed jobs and retry them. Only mounted when BullMQ is the
 * queue (the embedded default has no Redis to show).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';

export const BULL_BOARD_PATH = '/api/queues/admin';

export function bullBoardRoutes({ queue, basePath = BULL_BOARD_PATH }: { queue: Queue; basePath?: string }) {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(basePath);
  createBullBoard({
    queues: [new BullMQAdapter(queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Tally queues' } },
  });
  return serverAdapter.registerPlugin();
}
