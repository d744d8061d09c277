/** The one error shape every route answers with (SPEC §2). */
import { z } from 'zod';

export const errorResponseSchema = z.object({
  statusCode: z.number().int(),
  message: z.union([z.string(), z.array(z.string())]),
  error: z.string(),
  /** On a 503 from `POST /api/event`: the id the event was given; resend with it, as it may still be queued. */
  eventId: z.string().optional(),
  /** On a 503 from `POST /api/events`: the ids of the valid events, in order; resend with them. */
  eventIds: z.array(z.string()).optional(),
});

export type ErrorResponse = z.infer<typeof errorResponseSchema>;

/**
 * Turns zod issues into messages that each name their field, e.g.
 * `"siteId should not be empty"` or `"props.plan must be a string…"`.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const messages: string[] = [];
  for (const issue of issues) {
    const field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) messages.push(`property ${field ? `${field}.` : ''}${key} should not exist`);
      continue;
    }
    const head = field.split('.')[0] ?? '';
    const named = field === '' || issue.message.startsWith(field) || (head !== '' && issue.message.startsWith(head));
    messages.push(named ? issue.message : `${field} ${issue.message}`);
  }
  return [...new Set(messages)];
}
