import { parseAmount } from '../core/amount.ts'
import { CointsError } from '../core/errors.ts'
import type { ParamSpec } from './methods/types.ts'

/** Wrong RPC parameters: answered with JSON-RPC's -32602. */
export class ParamsError extends CointsError {}

/**
 * Validates positional or named params against a method's spec and returns them
 * by name. Amounts arrive as decimal strings of coins (or a whole number of
 * coins) and leave as bigint units.
 */
export function validateParams (method: string, specs: ParamSpec[], params: unknown): Record<string, unknown> {
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
  return args
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
