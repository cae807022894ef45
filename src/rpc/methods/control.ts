import { CointsError } from '../../core/errors.ts'
import { quoted } from '../../core/text.ts'
import { RPC_GROUPS } from '../contract.ts'
import type { ControlResults } from '../contract/control.ts'
import type { MethodDoc } from '../contract/types.ts'
import type { ParamSpec } from '../params.ts'
import type { Handlers } from './types.ts'

/** Every method's doc by name: the node serves exactly the contract's methods. */
const DOCS = new Map<string, MethodDoc>(RPC_GROUPS.flatMap(g => Object.entries(g.methods)))

export interface ControlContext {
  /** When the node started, in ms since the epoch. */
  startedAt: number
  stop: () => void
}

/** `getblockheader "hash" ( verbose )`: strings quoted, optional params in parentheses, as Core's help. */
function signature (name: string, params: readonly ParamSpec[]): string {
  return [name, ...params.map(p => {
    const shown = p.type === 'string' ? `"${p.name}"` : p.name
    return p.optional === true ? `( ${shown} )` : shown
  })].join(' ')
}

function describe (name: string, spec: MethodDoc): string {
  const width = Math.max(...spec.params.map(p => p.name.length), 0)
  const range = (p: ParamSpec): string => p.min !== undefined && p.max !== undefined ? `, ${p.min} to ${p.max}` : p.min !== undefined ? `, at least ${p.min}` : ''
  return [
    signature(name, spec.params),
    '',
    spec.description,
    ...(spec.params.length === 0
      ? []
      : ['', 'Arguments:', ...spec.params.map((p, i) => `${i + 1}. ${p.name.padEnd(width)}  (${p.type === 'amount' ? 'amount: a decimal string of coins' : p.type}, ${p.optional === true ? 'optional' : 'required'}${range(p)})`)])
  ].join('\n')
}

/** The node's own methods: help, uptime and stop. */
export function controlMethods (ctx: ControlContext): Handlers<keyof ControlResults> {
  return {
    help: async ({ command }) => {
      if (command === undefined) {
        return RPC_GROUPS.map(g => [`== ${g.name} ==`, ...Object.entries(g.methods).sort(([a], [b]) => a.localeCompare(b)).map(([name, doc]) => signature(name, doc.params))].join('\n')).join('\n\n')
      }
      const doc = DOCS.get(command)
      if (doc !== undefined) return describe(command, doc)
      throw new CointsError('UNKNOWN_METHOD', `help: no method ${quoted(command)}; \`help\` lists them`)
    },
    uptime: async () => Math.floor((Date.now() - ctx.startedAt) / 1000),
    stop: async () => {
      setImmediate(ctx.stop)
      return 'coints node stopping'
    }
  }
}
