import { CointsError } from '../../core/errors.ts'
import { quoted } from '../../core/text.ts'
import type { MethodSpec, MethodTable, ParamSpec } from './types.ts'

/** Methods under a heading, as `help` lists them (Bitcoin Core's "== Blockchain ==" and so on). */
export interface MethodGroup {
  name: string
  methods: MethodTable
}

export interface ControlContext {
  /** Every group, this one included: help reads them when called, so it lists what the node serves. */
  groups: MethodGroup[]
  /** When the node started, in ms since the epoch. */
  startedAt: number
  stop: () => void
}

/** `getblockheader "hash" ( verbose )`: strings quoted, optional params in parentheses, as Core's help. */
function signature (name: string, params: ParamSpec[]): string {
  return [name, ...params.map(p => {
    const shown = p.type === 'string' ? `"${p.name}"` : p.name
    return p.optional === true ? `( ${shown} )` : shown
  })].join(' ')
}

function describe (name: string, spec: MethodSpec): string {
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
export function controlMethods (ctx: ControlContext): MethodTable {
  return {
    help: {
      description: 'Lists every method by group with its arguments; `help METHOD` explains one.',
      params: [{ name: 'command', type: 'string', optional: true, max: 100 }],
      handler: async ({ command }) => {
        if (command === undefined) {
          return ctx.groups.map(g => [`== ${g.name} ==`, ...Object.entries(g.methods).sort(([a], [b]) => a.localeCompare(b)).map(([name, spec]) => signature(name, spec.params))].join('\n')).join('\n\n')
        }
        for (const group of ctx.groups) {
          if (Object.hasOwn(group.methods, command as string)) return describe(command as string, group.methods[command as string])
        }
        throw new CointsError('UNKNOWN_METHOD', `help: no method ${quoted(command)}; \`help\` lists them`)
      }
    },
    uptime: {
      description: 'Seconds since this node started.',
      params: [],
      handler: async () => Math.floor((Date.now() - ctx.startedAt) / 1000)
    },
    stop: {
      description: 'Shuts the node down.',
      params: [],
      handler: async () => {
        setImmediate(ctx.stop)
        return 'coints node stopping'
      }
    }
  }
}
