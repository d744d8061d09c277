/** The process logger: JSON lines with pino, at `LOG_LEVEL`. */
import { pino } from 'pino';

export function createLogger(level: string) {
  return pino({ level, base: { service: 'tally' } });
}
