/** A small leveled logger to stderr, shared by every layer (it does no other I/O). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface Logger {
  debug: (msg: string) => void
  info: (msg: string) => void
  warn: (msg: string) => void
  error: (msg: string) => void
}

let threshold: number = LOG_LEVELS.indexOf('info')

export function setLogLevel (level: LogLevel): void {
  threshold = LOG_LEVELS.indexOf(level)
}

export function isLogLevel (v: unknown): v is LogLevel {
  return typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v)
}

export function createLogger (name: string): Logger {
  const write = (level: LogLevel) => (msg: string): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${name}: ${msg}\n`)
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}
