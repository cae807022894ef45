import { BlockError } from '../core/errors.ts'
import { equalBytes } from '../core/hash.ts'
import { genesisBlock, type NetworkParams } from '../core/params.ts'
import { coinsOf, connectBlockTxs, type Coin } from '../core/rules.ts'
import type { BlockIndex, IndexEntry } from './block-index.ts'
import { StoreError } from './records.ts'
import { REMEDY, type ChainStore } from './store.ts'

/** Blocks checked at start unless told otherwise (Bitcoin Core's -checkblocks). */
export const DEFAULT_CHECK_BLOCKS = 6

function sameCoin (a: Coin | undefined, b: Coin): boolean {
  return a !== undefined && a.amount === b.amount && a.height === b.height && a.coinbase === b.coinbase && equalBytes(a.address, b.address)
}

/**
 * The UTXO set as the disk holds it, with changes on top (null: absent) as the
 * check disconnects and reconnects blocks; the disk is never written.
 */
class CoinsView {
  readonly changes = new Map<string, Coin | null>()
  readonly #store: ChainStore

  constructor (store: ChainStore) {
    this.#store = store
  }

  async get (keys: string[]): Promise<Map<string, Coin>> {
    const found = new Map<string, Coin>()
    const missing = keys.filter(k => !this.changes.has(k))
    const stored = await this.#store.getCoins(missing)
    for (let n = 0; n < missing.length; n++) if (stored[n] !== undefined) found.set(missing[n], stored[n] as Coin)
    for (const k of keys) {
      const c = this.changes.get(k)
      if (c !== undefined && c !== null) found.set(k, c)
    }
    return found
  }
}

/**
 * Bitcoin Core's start-up check (-checkblocks, at its highest -checklevel) of
 * the last `depth` best-chain blocks (0: all of them) against the state on
 * disk: each block's bytes hash to its id and agree with its index record, its
 * undo data names the coins its inputs spent, and disconnecting the blocks from
 * the UTXO set (their outputs must be there, their spent coins not) then
 * connecting them again by the rules gives back the same coins. With depth 0
 * the set left at genesis must be genesis's coins alone, and the stored UTXO
 * statistics must match the set. Throws a StoreError (CORRUPT_*) naming the
 * first damage. Returns the number of blocks checked.
 */
export async function checkRecentBlocks (store: ChainStore, index: BlockIndex, params: NetworkParams, depth: number): Promise<number> {
  const tip = index.tip
  const lowest = depth <= 0 ? 1 : Math.max(1, tip.height - depth + 1)
  const view = new CoinsView(store)
  const checked: Array<{ entry: IndexEntry, block: NonNullable<Awaited<ReturnType<ChainStore['getBlock']>>>, spent: Array<[string, Coin]> }> = []
  for (let h = tip.height; h >= lowest; h--) {
    const entry = index.atHeight(h) as IndexEntry
    const fail = (code: string, what: string): StoreError => new StoreError(code, `the start check found block ${h} (${entry.idString}) ${what}; ${REMEDY}`)
    const block = await store.getBlock(entry.id)
    if (block === undefined) throw fail('CORRUPT_BLOCK', 'indexed but not stored')
    const d = block.header.data
    if (d.height !== h || d.time !== entry.time || d.bits !== entry.bits || (d.prev?.toString() ?? null) !== entry.prev) throw fail('CORRUPT_INDEX', 'differing from its index record')
    const spent = await store.getUndo(entry.digest)
    const inputs = block.txs.flatMap(tx => tx.isCoinbase ? [] : tx.inputKeys())
    if (spent.length !== inputs.length || spent.some(([key], n) => key !== inputs[n])) throw fail('CORRUPT_UNDO', 'with undo data that does not name the coins its inputs spent')
    // Disconnect: its outputs (but those spent inside it) must be in the set as made, the coins it spent must not.
    const created = block.txs.flatMap(tx => coinsOf(tx, h))
    const createdKeys = new Set(created.map(([key]) => key))
    const inside = new Set(inputs.filter(key => createdKeys.has(key)))
    const have = await view.get([...created.map(([key]) => key), ...inputs])
    for (const [key, coin] of created) {
      if (inside.has(key)) continue
      if (!sameCoin(have.get(key), coin)) throw fail('CORRUPT_UTXO', `whose output ${key} is ${have.has(key) ? 'different in' : 'missing from'} the UTXO set`)
    }
    for (const key of inputs) if (!inside.has(key) && have.has(key)) throw fail('CORRUPT_UTXO', `which spent ${key}, a coin the UTXO set still holds`)
    for (const [key, coin] of spent) view.changes.set(key, coin)
    for (const key of createdKeys) view.changes.set(key, null)
    checked.push({ entry, block, spent })
  }
  if (depth <= 0) await checkGenesisState(store, view, params)
  // Connect them again, oldest first: the rules pass on the coins restored, and those are what each spent.
  for (let n = checked.length - 1; n >= 0; n--) {
    const { entry, block, spent } = checked[n]
    const fail = (what: string): StoreError => new StoreError('CORRUPT_UNDO', `the start check found block ${entry.height} (${entry.idString}) ${what}; ${REMEDY}`)
    const coins = await view.get(block.txs.flatMap(tx => tx.isCoinbase ? [] : tx.inputKeys()))
    let result
    try {
      result = connectBlockTxs(block, coins, params)
    } catch (err) {
      if (err instanceof BlockError) throw fail(`not connecting on the coins its undo data restores: ${err.message}`)
      throw err
    }
    if (result.spent.some(([key, coin], i) => key !== spent[i][0] || !sameCoin(coin, spent[i][1]))) throw fail('with undo data unlike the coins it spent')
    for (const [key, coin] of result.created) view.changes.set(key, coin)
    for (const [key] of result.spent) view.changes.set(key, null)
  }
  return checked.length
}

/** After every block was disconnected: the set is genesis's coins alone, and the stored statistics are the set's. */
async function checkGenesisState (store: ChainStore, view: CoinsView, params: NetworkParams): Promise<void> {
  const genesis = new Map(coinsOf(genesisBlock(params).txs[0], 0))
  const fail = (what: string): StoreError => new StoreError('CORRUPT_UTXO', `the start check found ${what}; ${REMEDY}`)
  let txouts = 0
  let total = 0n
  const seen = new Set<string>()
  for await (const [key, coin] of store.coins()) {
    txouts++
    total += coin.amount
    if (view.changes.has(key)) continue
    if (!sameCoin(genesis.get(key), coin)) throw fail(`coin ${key} in the UTXO set that no block made`)
    seen.add(key)
  }
  for (const [key, coin] of view.changes) {
    if (coin === null) continue
    if (!sameCoin(genesis.get(key), coin)) throw fail(`coin ${key} restored by undo data that no block made`)
    seen.add(key)
  }
  for (const key of genesis.keys()) if (!seen.has(key)) throw fail(`genesis coin ${key} missing`)
  const stats = await store.getStats()
  if (stats.txouts !== txouts || stats.total !== total) throw new StoreError('CORRUPT_META', `the start check found UTXO statistics (${stats.txouts} coins, ${stats.total}) unlike the set (${txouts}, ${total}); ${REMEDY}`)
}
