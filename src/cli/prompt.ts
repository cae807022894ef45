import { StringDecoder } from 'node:string_decoder'
import { CointsError } from '../core/errors.ts'
import { UsageError } from './command.ts'

/** The user cancelled a prompt (Ctrl-C, or Ctrl-D on an empty line): exit status 130, as a shell's for SIGINT. */
export class CancelledError extends CointsError {}

export interface SecretSource {
  /** Asked on the terminal, e.g. "wallet passphrase: ". */
  question: string
  /** An environment variable that gives it instead (never a flag: `ps` and shell history show those). */
  envVar: string
  /** What it is, for the error when there is neither a terminal nor the variable. */
  what: string
}

/**
 * A line typed on the terminal, not echoed: the terminal in raw mode, the
 * question on stderr (readline's own prompt handling erased it). Backspace and
 * Ctrl-U edit, Enter ends, Ctrl-C and Ctrl-D cancel.
 */
async function readHidden (question: string): Promise<string> {
  const stdin = process.stdin
  // Raw first: a key pressed as soon as the question shows must not be echoed.
  stdin.setRawMode(true)
  process.stderr.write(question)
  stdin.resume()
  const decoder = new StringDecoder('utf8')
  let text = ''
  let escape = false
  // Killed while asking (its launcher gone, a hang-up): give the shell its terminal back as it was.
  const onKill = (signal: NodeJS.Signals): void => {
    stdin.setRawMode(false)
    process.stderr.write('\n')
    process.exit(128 + (signal === 'SIGHUP' ? 1 : 15))
  }
  process.once('SIGTERM', onKill)
  process.once('SIGHUP', onKill)
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        for (const c of decoder.write(chunk)) {
          // The rest of an escape sequence (an arrow key, say): up to its final letter or tilde.
          if (escape) {
            escape = !/[A-Za-z~]/.test(c)
            continue
          }
          if (c === '\r' || c === '\n') {
            stdin.off('data', onData)
            resolve(text)
            return
          }
          if (c === '\u0003' || (c === '\u0004' && text === '')) {
            stdin.off('data', onData)
            reject(new CancelledError('CANCELLED', 'cancelled: nothing was changed'))
            return
          }
          if (c === '\u007f' || c === '\b') text = [...text].slice(0, -1).join('')
          else if (c === '\u0015') text = ''
          else if (c === '\u001b') escape = true
          else if (c >= ' ') text += c
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    process.off('SIGTERM', onKill)
    process.off('SIGHUP', onKill)
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}

function requireTerminal (source: SecretSource): void {
  const code = `NO_${source.what.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`
  if (process.stdin.isTTY !== true) throw new UsageError(code, `no terminal to ask for the ${source.what}: set ${source.envVar}`)
}

/** A secret from its environment variable, else asked once on the terminal without echo. */
export async function readSecret (source: SecretSource): Promise<string> {
  const fromEnv = process.env[source.envVar]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  requireTerminal(source)
  return await readHidden(source.question)
}

/**
 * A new secret: from its environment variable, else asked twice on the
 * terminal (a typo would lock the coins away); two answers that differ are
 * refused. An empty answer is refused unless `allowEmpty`.
 */
export async function readNewSecret (source: SecretSource, allowEmpty = false): Promise<string> {
  const fromEnv = process.env[source.envVar]
  if (fromEnv !== undefined && (fromEnv !== '' || allowEmpty)) return fromEnv
  requireTerminal(source)
  const first = await readHidden(source.question)
  if (first === '' && !allowEmpty) throw new UsageError('BAD_PASSPHRASE', `the ${source.what} must not be empty: nothing was changed`)
  const again = await readHidden(`${source.question.replace(/:\s*$/, '')} again: `)
  if (again !== first) throw new UsageError('PASSPHRASE_MISMATCH', `the two ${source.what}s differ: nothing was changed`)
  return first
}

/** The wallet's passphrase (COINTS_PASSPHRASE or the terminal). */
export function walletPassphrase (question = 'wallet passphrase: '): SecretSource {
  return { question, envVar: 'COINTS_PASSPHRASE', what: 'passphrase' }
}

/** A line on a terminal that rewrites itself; nothing when stderr is not a terminal. */
export function progressLine (text: string): void {
  if (process.stderr.isTTY === true) process.stderr.write(`\r\x1b[2K${text}`)
}

export function endProgress (): void {
  if (process.stderr.isTTY === true) process.stderr.write('\r\x1b[2K')
}
