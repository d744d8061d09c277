export * from './daily-salts.js';
export * from './parked-events.js';
export * from './raw-events.js';
export * from './site-daily-aggregates.js';
export * from './site-daily-event-counts.js';
export * from './site-daily-event-visitors.js';
export * from './site-daily-path-counts.js';
export * from './site-daily-unique-users.js';
