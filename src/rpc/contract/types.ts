import type { ParamSpec } from '../params.ts'

/** What the contract says of a method: `help`'s description and the params the server validates. */
export interface MethodDoc {
  readonly description: string
  readonly params: readonly ParamSpec[]
}

/** An amount on the wire: decimal coins as formatAmount writes them ("1.5", "-0.00000562"). */
export type AmountText = string
