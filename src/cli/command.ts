import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CointsError } from '../core/errors.ts'

/** A mistake on the command line: printed with a hint, exit status 2. */
export class UsageError extends CointsError {}

export interface Command {
  name: string
  summary: string
  usage: string
  /** Flag help lines: [flags, explanation]. */
  flags: Array<[string, string]>
  run: (argv: string[]) => Promise<number>
}

export function helpText (cmd: Command): string {
  const width = Math.max(...cmd.flags.map(([f]) => f.length), 0)
  return [
    `usage: ${cmd.usage}`,
    '',
    cmd.summary,
    ...(cmd.flags.length > 0 ? ['', 'options:', ...cmd.flags.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`)] : [])
  ].join('\n')
}

const NEGATIVE_NUMBER = /^-\d+(?:\.\d*)?$/

/**
 * node's parseArgs, with its errors turned into UsageError naming the command.
 * A negative number is an argument, not a flag (`send ADDR -1`, `--fee-rate -1`):
 * parseArgs would take "-1" for the option "-1", so numbers pass through it masked.
 */
export function parseFlags (cmd: Command, argv: string[], options: NonNullable<ParseArgsConfig['options']>, allowPositionals = false): { values: Record<string, unknown>, positionals: string[] } {
  const numbers: string[] = []
  const mask = (arg: string): string => NEGATIVE_NUMBER.test(arg) ? `\u0000${numbers.push(arg) - 1}` : arg
  const unmask = (value: unknown): unknown => typeof value === 'string' && value.startsWith('\u0000') ? numbers[Number(value.slice(1))] : Array.isArray(value) ? value.map(unmask) : value
  let parsed
  try {
    parsed = parseArgs({ args: argv.map(mask), options, allowPositionals, allowNegative: true, strict: true })
  } catch (err) {
    throw new UsageError('BAD_FLAGS', `${(err as Error).message}\nsee: coints ${cmd.name} --help`)
  }
  return {
    values: Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, unmask(v)])),
    positionals: parsed.positionals.map(p => unmask(p) as string)
  }
}

export function intFlag (name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError('BAD_FLAGS', `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`)
  return n
}
