/**
 * Deletes every Redis key under a bench run's queue prefix: the queue's, and the server's own counter
 * beside them (`completedCountKey`), which BullMQ's `obliterate` does not know and would leave behind.
 */
export async function deletePrefixedKeys(redis, prefix) {
  const keys = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1000 })) keys.push(...batch);
  if (keys.length > 0) await redis.del(...keys);
}
