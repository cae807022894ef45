/** What a chain has seen, read-only: counts of orphans and reorganisations, and when recent blocks and transactions arrived. */
export interface ChainStatsView {
  readonly orphans: number
  readonly reorgs: number
  readonly maxReorgDepth: number
  /** When a recent block or transaction first arrived here, in ms since the epoch. */
  arrival: (id: string) => number | undefined
}

/**
 * What a chain has seen, for operators and the swarm report: when each recent
 * block and transaction first arrived here (wall-clock ms, bounded), and counts
 * of orphans and reorganisations.
 */
export class ChainStats implements ChainStatsView {
  readonly #arrivals = new Map<string, number>()
  readonly #max: number
  orphans = 0
  reorgs = 0
  maxReorgDepth = 0

  constructor (maxArrivals = 50_000) {
    this.#max = maxArrivals
  }

  arrived (id: string): void {
    if (this.#arrivals.has(id)) return
    if (this.#arrivals.size >= this.#max) {
      const oldest = this.#arrivals.keys().next().value
      if (oldest !== undefined) this.#arrivals.delete(oldest)
    }
    this.#arrivals.set(id, Date.now())
  }

  arrival (id: string): number | undefined {
    return this.#arrivals.get(id)
  }

  reorganised (depth: number): void {
    this.reorgs++
    this.maxReorgDepth = Math.max(this.maxReorgDepth, depth)
  }
}
