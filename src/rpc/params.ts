import { parseAmount } from '../core/amount.ts'
import { CointsError } from '../core/errors.ts'

/** How a method declares its parameters; the server validates them before the handler runs. */
export type ParamType = 'string' | 'integer' | 'boolean' | 'amount' | 'any'

export interface ParamSpec {
  readonly name: string
  readonly type: ParamType
  readonly optional?: boolean
  readonly min?: number
  readonly max?: number
  /** Type only, never set: what a client sends for an 'any' param, which its handler checks itself. */
  readonly wire?: unknown
}

/** What a client sends for each type: amounts as decimal strings of coins (or whole coins as a number). */
interface WireTypes { string: string, integer: number, boolean: boolean, amount: string | number, any: unknown }
/** What a handler receives for each type, once validated: amounts as bigint base units. */
interface ArgTypes { string: string, integer: number, boolean: boolean, amount: bigint, any: unknown }

type WireOf<S extends ParamSpec> = S extends { type: 'any', wire?: infer T } ? T : WireTypes[S['type']]

/** A method's positional params as a client sends them, derived from its specs (optional ones may be left off the end). */
export type WireParams<P extends readonly ParamSpec[]> =
  P extends readonly [infer H extends ParamSpec, ...infer T extends readonly ParamSpec[]]
    ? H extends { optional: true } ? [WireOf<H>?, ...WireParams<T>] : [WireOf<H>, ...WireParams<T>]
    : []

type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** A method's validated arguments by name, as its handler receives them, derived from its specs. */
export type ArgsOf<P extends readonly ParamSpec[]> = Simplify<
  { [S in P[number] as S extends { optional: true } ? never : S['name']]: ArgTypes[S['type']] } &
  { [S in P[number] as S extends { optional: true } ? S['name'] : never]?: ArgTypes[S['type']] }
>

/** An 'any' param whose handler checks it, with the type clients send (`T`) for the typed client. */
export function anyParam<T> (name: string): { readonly name: string, readonly type: 'any', readonly wire?: T } {
  return { name, type: 'any' }
}

/** Wrong RPC parameters: answered with JSON-RPC's -32602. */
export class ParamsError extends CointsError {}

/**
 * Validates positional or named params against a method's spec and returns them
 * by name. Amounts arrive as decimal strings of coins (or a whole number of
 * coins) and leave as bigint units.
 */
export function validateParams<const P extends readonly ParamSpec[]> (method: string, specs: P, params: unknown): ArgsOf<P> {
  const args: Record<string, unknown> = {}
  let values: unknown[]
  if (params === undefined || params === null) {
    values = []
  } else if (Array.isArray(params)) {
    if (params.length > specs.length) throw new ParamsError('TOO_MANY_PARAMS', `${method} takes at most ${specs.length} params, got ${params.length}`)
    values = params
  } else if (typeof params === 'object') {
    const named = params as Record<string, unknown>
    for (const key of Object.keys(named)) {
      if (!specs.some(s => s.name === key)) throw new ParamsError('UNKNOWN_PARAM', `${method} has no param "${key}"`)
    }
    values = specs.map(s => named[s.name])
  } else {
    throw new ParamsError('BAD_PARAMS', 'params must be an array or an object')
  }
  specs.forEach((spec, i) => {
    const value = values[i]
    if (value === undefined || value === null) {
      if (spec.optional !== true) throw new ParamsError('MISSING_PARAM', `${method} needs param ${i + 1} "${spec.name}" (${spec.type})`)
      return
    }
    args[spec.name] = checkType(method, spec, value)
  })
  // Each spec's name now holds a value of its type, or nothing when it is optional: what ArgsOf<P> says.
  return args as ArgsOf<P>
}

function checkType (method: string, spec: ParamSpec, value: unknown): unknown {
  const where = `${method} param "${spec.name}"`
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') throw new ParamsError('BAD_PARAM', `${where} must be a string`)
      if (value.length > (spec.max ?? 8_000_000)) throw new ParamsError('BAD_PARAM', `${where} is too long`)
      return value
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ParamsError('BAD_PARAM', `${where} must be an integer`)
      if (spec.min !== undefined && value < spec.min) throw new ParamsError('BAD_PARAM', `${where} must be at least ${spec.min}`)
      if (spec.max !== undefined && value > spec.max) throw new ParamsError('BAD_PARAM', `${where} must be at most ${spec.max}`)
      return value
    case 'boolean':
      if (typeof value !== 'boolean') throw new ParamsError('BAD_PARAM', `${where} must be true or false`)
      return value
    case 'amount':
      try {
        // A whole number of coins is exact as a JSON number; a fraction must come as text.
        return parseAmount(Number.isSafeInteger(value) ? String(value) : value)
      } catch (err) {
        throw new ParamsError('BAD_AMOUNT', `${where}: ${err instanceof CointsError ? err.reason : (err as Error).message}`)
      }
    case 'any':
      return value
  }
}
