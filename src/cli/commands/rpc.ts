import { callRpcRaw } from '../../rpc/client.ts'
import { helpText, parseFlags, UsageError, type Command } from '../command.ts'
import { rpcTargetOf, targetFlagHelp, targetFlags } from './common.ts'

const INTEGER = /^-?\d+$/

/**
 * A command-line argument as a JSON-RPC param: JSON when it parses as an
 * integer, boolean, null, array or object; else the string as typed. A numeral
 * with a fraction or exponent stays text, as amounts travel ("1.5"): as a
 * JSON number it would reach the node as a float.
 */
export function rpcArg (text: string): unknown {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'number' ? Number.isSafeInteger(value) && INTEGER.test(text) : typeof value !== 'string') return value
  } catch {
    // not JSON: a plain string
  }
  return text
}

export const rpcCommand: Command = {
  name: 'rpc',
  summary: 'Calls a running node\'s JSON-RPC method and prints the result (strings as they are, the rest as JSON). `coints rpc help` lists the methods.',
  usage: 'coints rpc [options] METHOD [ARGS...]',
  flags: targetFlagHelp,
  async run (argv) {
    const { values, positionals } = parseFlags(this, argv, targetFlags, true)
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const [method, ...args] = positionals
    if (method === undefined) throw new UsageError('BAD_FLAGS', 'which method? see: coints rpc help')
    const result = await callRpcRaw(await rpcTargetOf(values), method, args.map(rpcArg))
    console.log(typeof result === 'string' ? result : JSON.stringify(result, null, 2))
    return 0
  }
}
