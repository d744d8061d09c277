/**
 * Schemas of the server's answers that are not errors or stats: ingestion
 * receipts and the operations routes. They exist so that the OpenAPI document
 * is generated, never written by hand; the type checks below keep them equal to
 * the interfaces in `event.ts` that the SDK imports.
 */
import { z } from 'zod';
import type { BatchAccepted, EventAccepted } from './event.js';

export const eventAcceptedSchema = z.object({
  success: z.literal(true),
  eventId: z.uuid(),
  visitorId: z.uuid(),
});

export const batchAcceptedSchema = z.object({
  success: z.literal(true),
  accepted: z.number().int().min(1),
  eventIds: z.array(z.uuid()),
  rejected: z.array(z.object({ index: z.number().int().min(0), message: z.array(z.string()) })),
  visitorId: z.uuid(),
});

export const queueCountsSchema = z.object({
  waiting: z.number().int(),
  active: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  delayed: z.number().int(),
  total: z.number().int(),
});

export const livenessSchema = z.object({ status: z.literal('ok') });

const probe = z.enum(['ok', 'unreachable']);
export const readinessSchema = z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.object({ database: probe, queue: probe }),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameReceipts: [
  Same<z.infer<typeof eventAcceptedSchema>, EventAccepted>,
  Same<z.infer<typeof batchAcceptedSchema>, BatchAccepted>,
] = [true, true];
void sameReceipts;
