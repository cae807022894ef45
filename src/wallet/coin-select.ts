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

/**
 * Largest coins first until they pay the amount and the fee of the transaction
 * they make. `feeFor(inputs, withChange)` prices that transaction; change below
 * `dust` is not worth an output and is left to the fee.
 */
export function selectCoins<C extends Candidate> (coins: C[], amount: bigint, feeFor: (inputs: C[], withChange: boolean) => bigint, dust: bigint): Selection<C> {
  const sorted = [...coins].sort((a, b) => (a.amount < b.amount ? 1 : a.amount > b.amount ? -1 : 0))
  const inputs: C[] = []
  let total = 0n
  for (const coin of sorted) {
    inputs.push(coin)
    total += coin.amount
    const fee = feeFor(inputs, true)
    if (total >= amount + fee) {
      const change = total - amount - fee
      if (change >= dust) return { inputs, fee, change }
      const bare = feeFor(inputs, false)
      if (total >= amount + bare) return { inputs, fee: total - amount, change: 0n }
    }
  }
  const available = coins.reduce((s, c) => s + c.amount, 0n)
  const needed = amount + feeFor(sorted, false)
  throw new WalletError('INSUFFICIENT_FUNDS', `sending ${formatAmount(amount)} needs ${formatAmount(needed > amount ? needed : amount)} with fees; ${formatAmount(available)} is spendable`)
}
