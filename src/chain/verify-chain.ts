import { BlockError } from '../core/errors.ts'
import { equalBytes } from '../core/hash.ts'
import type { NetworkParams } from '../core/params.ts'
import { coinsOf, connectBlockTxs, type Coin } from '../core/rules.ts'
import type { BlockIndex, IndexEntry } from './block-index.ts'
import { StoreError } from './records.ts'
import { REMEDY, type ChainStore, type UtxoStats } from './store.ts'

/** What a check of the UTXO set against the blocks found (RPC verifychain). */
export interface UtxoCheck {
  ok: boolean
  height: number
  /** The stored set's outputs and their total amount (its statistics', when a block does not connect). */
  txouts: number
  total: bigint
  /** What differs, 20 at most. */
  mismatches: string[]
}

/** At most this many mismatches are told. */
const MAX_MISMATCHES = 20

/**
 * Recomputes the UTXO set from the stored blocks of the best chain and compares
 * it with the set on disk, coin by coin, and with its statistics: what a crash
 * must never break. The disk must hold the whole state (the caller flushes
 * first) and nothing may change it meanwhile.
 */
export async function verifyUtxoSet (store: ChainStore, index: BlockIndex, params: NetworkParams, stats: UtxoStats): Promise<UtxoCheck> {
  const tip = index.tip
  const coins = new Map<string, Coin>()
  for (let h = 0; h <= tip.height; h++) {
    const entry = index.atHeight(h) as IndexEntry
    const block = await store.getBlock(entry.id)
    if (block === undefined) throw new StoreError('CORRUPT_BLOCK', `best-chain block ${entry.idString} at height ${h} is not stored; ${REMEDY}`)
    if (h === 0) {
      for (const [key, coin] of coinsOf(block.txs[0], 0)) coins.set(key, coin)
    } else {
      try {
        connectBlockTxs(block, coins, params)
      } catch (err) {
        // A damaged store, not a bad peer: report it like any other mismatch.
        if (!(err instanceof BlockError)) throw err
        const mismatch = `best-chain block ${entry.idString} at height ${h} does not connect: ${err.message}`
        return { ok: false, height: tip.height, txouts: stats.txouts, total: stats.total, mismatches: [mismatch] }
      }
    }
  }
  const mismatches: string[] = []
  let txouts = 0
  let total = 0n
  for await (const [key, coin] of store.coins()) {
    txouts++
    total += coin.amount
    const expected = coins.get(key)
    if (expected === undefined) mismatches.push(`${key} is stored but not in the recomputed set`)
    else if (expected.amount !== coin.amount || expected.height !== coin.height || expected.coinbase !== coin.coinbase || !equalBytes(expected.address, coin.address)) mismatches.push(`${key} differs`)
    coins.delete(key)
  }
  for (const key of coins.keys()) mismatches.push(`${key} is missing from the stored set`)
  if (txouts !== stats.txouts || total !== stats.total) mismatches.push('stored UTXO statistics differ from the set')
  return { ok: mismatches.length === 0, height: tip.height, txouts, total, mismatches: mismatches.slice(0, MAX_MISMATCHES) }
}
