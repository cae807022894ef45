import { WalletError } from './errors.ts'
import { formatAmount } from '../core/amount.ts'

export interface Candidate {
  amount: bigint
}

export interface Selection<C extends Candidate> {
  inputs: C[]
  fee: bigint
  /** 0n when the change would be dust and went to the fee instead. */
  change: bigint
}

export interface SelectionPolicy {
  /** Base units per byte. */
  feeRate: number
  /** Change below this is not worth an output and is left to the fee. */
  dust: bigint
  /** Largest transaction allowed, in bytes. */
  maxBytes: number
}

/**
 * Largest coins first until they pay the amount and the fee of the transaction
 * they make. `draftBytes(inputs, withChange)` sizes that transaction.
 */
export function selectCoins<C extends Candidate> (coins: C[], amount: bigint, draftBytes: (inputs: C[], withChange: boolean) => number, policy: SelectionPolicy): Selection<C> {
  const available = coins.reduce((s, c) => s + c.amount, 0n)
  const insufficient = (fee: bigint): WalletError =>
    new WalletError('INSUFFICIENT_FUNDS', `sending ${formatAmount(amount)} needs ${formatAmount(amount + fee)} with fees; ${formatAmount(available)} is spendable`)
  // Checked first: sizing drafts of every coin only to fail would take time quadratic in the coins.
  if (available < amount) throw insufficient(0n)
  const feeFor = (inputs: C[], withChange: boolean): bigint => {
    const bytes = draftBytes(inputs, withChange)
    if (bytes > policy.maxBytes) {
      throw new WalletError('TOO_MANY_INPUTS', `sending ${formatAmount(amount)} takes more than ${inputs.length - 1} coins, over the ${policy.maxBytes}-byte transaction limit: send less, or first send coins to yourself to merge them`)
    }
    return BigInt(Math.ceil(bytes * policy.feeRate))
  }
  const sorted = [...coins].sort((a, b) => (a.amount < b.amount ? 1 : a.amount > b.amount ? -1 : 0))
  const inputs: C[] = []
  let total = 0n
  let fee = 0n
  for (const coin of sorted) {
    inputs.push(coin)
    total += coin.amount
    fee = feeFor(inputs, true)
    if (total >= amount + fee) {
      const change = total - amount - fee
      if (change >= policy.dust) return { inputs, fee, change }
      const bare = feeFor(inputs, false)
      if (total >= amount + bare) return { inputs, fee: total - amount, change: 0n }
    }
  }
  throw insufficient(fee)
}
