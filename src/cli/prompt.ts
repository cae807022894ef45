import { createInterface } from 'node:readline'
import { UsageError } from './command.ts'

/** A wallet passphrase: see readSecret. */
export async function readPassphrase (question: string): Promise<string> {
  return await readSecret(question, 'passphrase', 'COINTS_PASSPHRASE')
}

/**
 * A secret from an environment variable, else asked on the terminal without
 * echo (never from the command line, where `ps` and shell history show it).
 * With neither, an error says how to give one.
 */
export async function readSecret (question: string, what: string, envVar: string): Promise<string> {
  const fromEnv = process.env[envVar]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (process.stdin.isTTY !== true) throw new UsageError(`NO_${what.toUpperCase()}`, `no terminal to ask for the ${what}: set ${envVar}`)
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  const muted = rl as unknown as { _writeToOutput: (s: string) => void }
  process.stderr.write(question)
  muted._writeToOutput = () => {}
  try {
    return await new Promise(resolve => rl.question('', answer => { resolve(answer) }))
  } finally {
    rl.close()
    process.stderr.write('\n')
  }
}

/** A line on a terminal that rewrites itself; nothing when stderr is not a terminal. */
export function progressLine (text: string): void {
  if (process.stderr.isTTY === true) process.stderr.write(`\r\x1b[2K${text}`)
}

export function endProgress (): void {
  if (process.stderr.isTTY === true) process.stderr.write('\r\x1b[2K')
}
