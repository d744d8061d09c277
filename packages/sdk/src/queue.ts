/**
 * Cutting the queue into requests the server accepts: at most
 * `batchMaxEvents` events and `bodyMaxBytes` bytes of body each. The limits
 * come from @tally/shared's limits module, which holds plain constants; the
 * minifier inlines them, so no schema code reaches the browser.
 */
import { LIMITS } from '@tally/shared/limits';

/** `{"events":[]}` is 13 bytes; less the one comma too many that counting one per event adds. */
const ENVELOPE_BYTES = 12;

/** UTF-8 size of an event as it goes on the wire, plus the comma that joins it to the next. */
export const eventBytes = (event: object): number => new Blob([JSON.stringify(event)]).size + 1;

/**
 * Splits `events` in order into request-sized batches. An event too large for
 * any request travels alone, and the server's 413 then drops it.
 *
 * @example
 * for (const batch of toBatches(queue)) send({ events: batch });
 */
export const toBatches = <T extends object>(events: T[]): T[][] => {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const event of events) {
    const size = eventBytes(event);
    if (batch.length && (batch.length >= LIMITS.batchMaxEvents || bytes + size > LIMITS.bodyMaxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = ENVELOPE_BYTES;
    }
    batch.push(event);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
};
