import { type Logger, pino } from 'pino'
import pretty from 'pino-pretty'
import type { LogLevel } from './args.ts'

/**
 * JSON lines on stdout, one object per line, for machines; colourful lines when stdout is a
 * terminal, for people. Redirected output never carries ANSI colours.
 */
export function createLogger(level: LogLevel, stream: NodeJS.WriteStream = process.stdout): Logger {
  if (stream.isTTY) return pino({ level }, pretty({ colorize: true, destination: 1, sync: true }))
  return pino({ level }, pino.destination({ dest: 1, sync: true }))
}
