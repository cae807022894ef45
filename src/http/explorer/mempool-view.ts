import type { Tx } from '../../core/tx.ts'
import type { MempoolEntry } from '../../chain/types.ts'
import type { ExplorerChain, ExplorerMempool } from './types.ts'

/** Fee-rate bands, base units per byte: the lower bound of each. */
export const FEE_BANDS = [0, 2, 5, 10, 20, 50, 100, 200] as const
/** Latest transactions the mempool page lists. */
const RECENT = 25

interface Band { min: number, max: number | null, count: number, bytes: number }

/**
 * The mempool as its page shows it, kept up to date from the chain's events
 * (each costs O(1)), so a request never walks the pool: counts and bytes by
 * fee-rate band, and the latest arrivals.
 */
export class MempoolView {
  readonly #chain: ExplorerChain
  readonly #mempool: ExplorerMempool
  readonly #band = new Map<string, { band: number, bytes: number }>()
  readonly #counts = FEE_BANDS.map(() => ({ count: 0, bytes: 0 }))
  #recent: Array<{ txid: string, size: number, feeRate: number, time: number }> = []
  /** Bumped on every change, so event streams send only what changed. */
  version = 0

  constructor (chain: ExplorerChain, mempool: ExplorerMempool) {
    this.#chain = chain
    this.#mempool = mempool
  }

  start (): void {
    this.#chain.on('tx:accepted', this.#onAccepted)
    this.#chain.on('tx:removed', this.#onRemoved)
  }

  stop (): void {
    this.#chain.off('tx:accepted', this.#onAccepted)
    this.#chain.off('tx:removed', this.#onRemoved)
  }

  readonly #onAccepted = (entry: MempoolEntry): void => {
    // A reorganisation empties the pool and takes its transactions again: the same id counts once.
    this.#drop(entry.tx.idString)
    let band = FEE_BANDS.length - 1
    while (band > 0 && entry.feeRate < FEE_BANDS[band]) band--
    this.#band.set(entry.tx.idString, { band, bytes: entry.size })
    this.#counts[band].count++
    this.#counts[band].bytes += entry.size
    this.#recent.unshift({ txid: entry.tx.idString, size: entry.size, feeRate: entry.feeRate, time: entry.time })
    if (this.#recent.length > RECENT) this.#recent.length = RECENT
    this.version++
  }

  readonly #onRemoved = (txs: Tx[]): void => {
    for (const tx of txs) this.#drop(tx.idString)
    const gone = new Set(txs.map(tx => tx.idString))
    this.#recent = this.#recent.filter(r => !gone.has(r.txid))
    this.version++
  }

  #drop (txid: string): void {
    const held = this.#band.get(txid)
    if (held === undefined) return
    this.#band.delete(txid)
    this.#counts[held.band].count--
    this.#counts[held.band].bytes -= held.bytes
  }

  /** The figures for the page and its live updates. */
  view (): { count: number, bytes: number, usage: number, maxUsage: number, minFeeRate: number, bands: Band[], recent: MempoolView['recent'] } {
    const mempool = this.#mempool
    return {
      count: mempool.size,
      bytes: mempool.bytes,
      usage: mempool.usage,
      maxUsage: mempool.maxBytes,
      minFeeRate: mempool.minFeeRate,
      bands: FEE_BANDS.map((min, n) => ({ min, max: FEE_BANDS[n + 1] ?? null, ...this.#counts[n] })),
      recent: this.recent
    }
  }

  get recent (): Array<{ txid: string, size: number, feeRate: number, time: number }> {
    return this.#recent
  }
}
