import assert from 'node:assert/strict'
import { test } from 'node:test'
import { selectCoins, type SelectionPolicy } from '../src/wallet/coin-select.ts'
import { WalletError } from '../src/wallet/errors.ts'

const policy: SelectionPolicy = { feeRate: 1, dust: 100n, maxBytes: 1_000 }
/** A draft of 10 bytes plus 100 an input, 30 more with a change output. */
const draftBytes = (inputs: unknown[], withChange: boolean): number => 10 + 100 * inputs.length + (withChange ? 30 : 0)
const coins = (...amounts: number[]): Array<{ amount: bigint }> => amounts.map(a => ({ amount: BigInt(a) }))

function rejectsWith (fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof WalletError && err.code === code)
}

test('coin selection takes the largest coins first, keeps change above dust and leaves dust to the fee', () => {
  const selected = selectCoins(coins(1_000, 5_000, 2_000), 4_000n, draftBytes, policy)
  assert.deepEqual(selected, { inputs: coins(5_000), fee: 140n, change: 860n })
  // 5,000 − 4,800 − 140 leaves 60, dust: no change output, the rest is fee.
  assert.deepEqual(selectCoins(coins(5_000), 4_800n, draftBytes, policy), { inputs: coins(5_000), fee: 200n, change: 0n })
  assert.deepEqual(selectCoins(coins(5_000, 2_000), 6_500n, draftBytes, policy).inputs, coins(5_000, 2_000))
})

test('coin selection refuses with a code: short of funds before sizing any draft, and over the size limit', () => {
  let drafts = 0
  const counted = (inputs: unknown[], withChange: boolean): number => { drafts++; return draftBytes(inputs, withChange) }
  rejectsWith(() => selectCoins(coins(...Array<number>(10_000).fill(1)), 10_001n, counted, policy), 'INSUFFICIENT_FUNDS')
  assert.equal(drafts, 0)
  // Enough coins, but the fee of the last draft is not covered.
  rejectsWith(() => selectCoins(coins(1_000), 1_000n, draftBytes, policy), 'INSUFFICIENT_FUNDS')
  // Ten coins of 100 each would make a draft of 1,040 bytes: over the limit.
  rejectsWith(() => selectCoins(coins(...Array<number>(20).fill(100)), 1_500n, draftBytes, { ...policy, feeRate: 0 }), 'TOO_MANY_INPUTS')
})
