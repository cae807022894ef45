/** How a method declares its parameters; the server validates them before the handler runs. */
export type ParamType = 'string' | 'integer' | 'boolean' | 'amount' | 'any'

export interface ParamSpec {
  name: string
  type: ParamType
  optional?: boolean
  min?: number
  max?: number
}

export interface MethodSpec {
  description: string
  params: ParamSpec[]
  /** Receives the validated arguments by name. */
  handler: (args: Record<string, unknown>) => Promise<unknown>
}

export type MethodTable = Record<string, MethodSpec>
