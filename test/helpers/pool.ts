/**
 * Mempool fixtures: many confirmed coins of one key, and chains of unconfirmed
 * spends paying chosen fee rates (tests and bench/mempool.ts).
 */
import type { KeyPair } from '../../src/core/keys.ts'
import type { Tx } from '../../src/core/tx.ts'
import { mineBlocks, outputOf, spendTx, type MiningChain, type Spendable, type TestClock } from './chain-harness.ts'

/**
 * Coins a fan-out transaction makes: output indexes below 24 take one byte
 * in DAG-CBOR, so every one-input, one-output spend of these coins is 235
 * bytes (SPEND_BYTES; their amounts fit in 32 bits).
 */
const FAN_OUT = 24
export const SPEND_BYTES = 235

/** `count` confirmed coins of `key`: fan-outs of matured coinbases, mined. */
export async function fundCoins (chain: MiningChain, clock: TestClock, key: KeyPair, count: number): Promise<Spendable[]> {
  const fans = Math.ceil(count / FAN_OUT)
  const blocks = await mineBlocks(chain, clock, fans + chain.params.coinbaseMaturity, key.addressHash)
  const coins: Spendable[] = []
  for (let f = 0; f < fans; f++) {
    const coinbase = outputOf(blocks[f].txs[0])
    const outputs = Math.min(FAN_OUT, count - coins.length)
    const each = (coinbase.amount - 1_000_000n) / BigInt(outputs)
    const fan = spendTx(chain, [coinbase], key, { outputs: Array.from({ length: outputs }, () => ({ amount: each, address: key.addressHash })) })
    await chain.acceptTx(fan)
    for (let n = 0; n < outputs; n++) coins.push(outputOf(fan, n))
  }
  while (chain.mempool.size > 0) await mineBlocks(chain, clock, 1, key.addressHash)
  return coins
}

/**
 * `length` spends of `coin`, each spending the one before (one output each);
 * the one at depth d pays about rate(d) base units a byte.
 */
export function spendChain (chain: { chainTag: Uint8Array }, key: KeyPair, coin: Spendable, length: number, rate: (depth: number) => number): Tx[] {
  const txs: Tx[] = []
  let from = coin
  for (let d = 0; d < length; d++) {
    const tx = spendTx(chain, [from], key, { fee: BigInt(Math.round(rate(d) * SPEND_BYTES)) })
    txs.push(tx)
    from = outputOf(tx)
  }
  return txs
}
