import type { ChainReader } from '../../src/chain/ports.ts'
import type { KeyPair } from '../../src/core/keys.ts'
import type { Tx } from '../../src/core/tx.ts'
import { outputOf, spendTx } from './chain-harness.ts'

/** Spends the coinbase of the best-chain block at `height` (paid to `key`) to `to`. */
export async function spendCoinbase (chain: Pick<ChainReader, 'chainTag' | 'getEntryAt' | 'getBlock'>, height: number, key: KeyPair, to: Uint8Array, fee = 10_000n): Promise<Tx> {
  const entry = chain.getEntryAt(height)
  const coinbase = entry === undefined ? undefined : (await chain.getBlock(entry.id))?.txs[0]
  if (coinbase === undefined) throw new Error(`no stored block at height ${height}`)
  const coin = outputOf(coinbase)
  return spendTx(chain, [coin], key, { outputs: [{ amount: coin.amount - fee, address: to }] })
}
