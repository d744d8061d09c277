/**
 * Deletes every Redis key under a bench run's queue prefix. BullMQ's `obliterate` removes the keys of
 * the queue it knows, not the server's own counter beside them (`completedCountKey`), which a run
 * would otherwise leave behind in Redis, one key a run.
 */
export async function deletePrefixedKeys(redis, prefix) {
  const keys = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1000 })) keys.push(...batch);
  if (keys.length > 0) await redis.del(...keys);
}
