/**
 * The swarm's seeded choices (who mines next, who gets a payment, which node
 * crashes, which groups a partition makes): mulberry32, a 32-bit generator small
 * enough to keep here. Each kind of choice draws from a stream of its own, so a
 * run that mines one block more than another still crashes the same node.
 */
export class SeededRandom {
  #state: number

  constructor (seed: number, stream: string) {
    // The stream's name is folded into the seed (FNV-1a), so streams never share a sequence.
    let h = 0x811c9dc5 ^ (seed >>> 0)
    for (const c of stream) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193)
    this.#state = h >>> 0
  }

  /** A number in [0, 1). */
  next (): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('nothing to pick from')
    return items[Math.floor(this.next() * items.length)]
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const x = out[i]
      out[i] = out[j]
      out[j] = x
    }
    return out
  }
}
