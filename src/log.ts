/**
 * A small leveled logger shared by every layer (it does no other I/O): lines to
 * stderr and, with --log-file, appended to a file; as text, or one JSON object a
 * line (--log-format json) for tools. Progress (a sync) is one line rewritten
 * in place on a terminal, and a line every few seconds anywhere else.
 */
import { closeSync, openSync, writeSync } from 'node:fs'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = typeof LOG_FORMATS[number]

/** What a line says for tools, beside its text (the JSON format writes them as fields). */
export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  debug: (msg: string, fields?: LogFields) => void
  info: (msg: string, fields?: LogFields) => void
  warn: (msg: string, fields?: LogFields) => void
  error: (msg: string, fields?: LogFields) => void
}

/** A line that follows a task's progress, then says when it is done. */
export interface Progress {
  /** The state now: rewritten in place on a terminal, written every `intervalMs` elsewhere. */
  update: (msg: string, fields?: LogFields) => void
  /** The last line, always written; the progress line is gone. */
  done: (msg: string, fields?: LogFields) => void
}

export interface LogConfig {
  level?: LogLevel
  format?: LogFormat
  /** Appended to as well as stderr; undefined: stderr only. */
  file?: string
}

const state = {
  threshold: LOG_LEVELS.indexOf('info') as number,
  format: 'text' as LogFormat,
  fd: undefined as number | undefined,
  /** The progress line on the terminal now, redrawn under each line written above it. */
  shown: undefined as string | undefined
}

export function setLogLevel (level: LogLevel): void {
  state.threshold = LOG_LEVELS.indexOf(level)
}

export function isLogLevel (v: unknown): v is LogLevel {
  return typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v)
}

export function isLogFormat (v: unknown): v is LogFormat {
  return typeof v === 'string' && (LOG_FORMATS as readonly string[]).includes(v)
}

/** Sets the level, the format and the log file (opened for appending now: a path that cannot be opened throws here, at start). */
export function configureLogging (config: LogConfig): void {
  if (config.level !== undefined) setLogLevel(config.level)
  if (config.format !== undefined) state.format = config.format
  if (state.fd !== undefined) closeSync(state.fd)
  state.fd = config.file === undefined ? undefined : openSync(config.file, 'a', 0o644)
}

/** Whether progress is drawn as one line rewritten in place: text to a terminal. */
function onTerminal (): boolean {
  return state.format === 'text' && process.stderr.isTTY === true
}

function format (level: string, name: string, msg: string, fields: LogFields | undefined): string {
  const time = new Date().toISOString()
  if (state.format === 'json') return JSON.stringify({ time, level, module: name, msg, ...fields })
  return `${time} ${level.toUpperCase().padEnd(5)} ${name}: ${msg}`
}

function writeLine (line: string, toTerminal = true): void {
  if (toTerminal) {
    if (state.shown === undefined) {
      process.stderr.write(`${line}\n`)
    } else {
      // Above the progress line, which is drawn again beneath it.
      process.stderr.write(`\r\x1b[K${line}\n${state.shown}`)
    }
  }
  if (state.fd !== undefined) {
    try {
      writeSync(state.fd, `${line}\n`)
    } catch {
      // A log file that fails (a full disk) must not take the node down: stderr still has the line.
    }
  }
}

function enabled (level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= state.threshold
}

export function createLogger (name: string): Logger {
  const write = (level: LogLevel) => (msg: string, fields?: LogFields): void => {
    if (enabled(level)) writeLine(format(level, name, msg, fields))
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

/** Progress of one task at info level; `intervalMs`: how often a line is written where it cannot be rewritten. */
export function createProgress (name: string, intervalMs = 5_000): Progress {
  let lastWritten = -Infinity
  return {
    update (msg, fields) {
      if (!enabled('info')) return
      const line = format('info', name, msg, fields)
      const now = performance.now()
      const due = now - lastWritten >= intervalMs
      if (due) lastWritten = now
      if (onTerminal()) {
        // Cut to the terminal's width: a line that wraps could not be rewritten in place.
        state.shown = line.slice(0, Math.max(20, (process.stderr.columns ?? 80) - 1))
        process.stderr.write(`\r\x1b[K${state.shown}`)
        if (due && state.fd !== undefined) writeLine(line, false)
      } else if (due) {
        writeLine(line)
      }
    },
    done (msg, fields) {
      if (state.shown !== undefined) {
        process.stderr.write('\r\x1b[K')
        state.shown = undefined
      }
      lastWritten = -Infinity
      if (enabled('info')) writeLine(format('info', name, msg, fields))
    }
  }
}
