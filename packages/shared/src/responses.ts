/**
 * Schemas of the server's answers that are not errors or stats: ingestion
 * receipts and the operations routes. The OpenAPI document is generated from
 * them, and their types are inferred from them, so each is written once.
 */
import { z } from 'zod';

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

export type EventAccepted = z.infer<typeof eventAcceptedSchema>;
export type BatchAccepted = z.infer<typeof batchAcceptedSchema>;
export type QueueCounts = z.infer<typeof queueCountsSchema>;
