/** `npm run db:migrate`: apply the migrations to DATABASE_URL and exit. */
import { loadEnv } from '../env.js';
import { migratePostgres } from './migrate.js';

const env = loadEnv();
if (!env.DATABASE_URL) {
  console.error('DATABASE_URL is not set: nothing to migrate (the embedded database migrates itself on start).');
  process.exit(1);
}
await migratePostgres(env.DATABASE_URL);
console.log('migrations applied');
