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

/** node's parseArgs, with its errors turned into UsageError naming the command. */
export function parseFlags (cmd: Command, argv: string[], options: NonNullable<ParseArgsConfig['options']>, allowPositionals = false): { values: Record<string, unknown>, positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals, allowNegative: true, strict: true })
    return { values: values as Record<string, unknown>, positionals }
  } catch (err) {
    throw new UsageError('BAD_FLAGS', `${(err as Error).message}\nsee: coints ${cmd.name} --help`)
  }
}

export function intFlag (name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError('BAD_FLAGS', `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`)
  return n
}
