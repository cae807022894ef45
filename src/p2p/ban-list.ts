/**
 * Peers we refuse for a while: misbehaving ones are banned after repeated
 * offences. The connection gater consults it, so a banned peer can neither
 * dial us nor be dialed.
 */
export interface BanListInit {
  /** Offences within `forgetMs` of each other that earn a ban. */
  threshold?: number
  banMs?: number
  /** A peer's offences are forgotten after this long without a new one: honest peers time out now and then. */
  forgetMs?: number
  /** Clock in ms, replaceable in tests. */
  now?: () => number
}

export class BanList {
  readonly #until = new Map<string, number>()
  /** Offence counts by peer, in the order of their last offence (oldest first), so forgotten ones are pruned from the front. */
  readonly #offences = new Map<string, { count: number, at: number }>()
  readonly #threshold: number
  readonly #banMs: number
  readonly #forgetMs: number
  readonly #now: () => number

  constructor (init: BanListInit = {}) {
    this.#threshold = init.threshold ?? 3
    this.#banMs = init.banMs ?? 10 * 60_000
    this.#forgetMs = init.forgetMs ?? this.#banMs
    this.#now = init.now ?? Date.now
  }

  isBanned (peer: string): boolean {
    const until = this.#until.get(peer)
    if (until === undefined) return false
    if (until > this.#now()) return true
    this.#until.delete(peer)
    return false
  }

  ban (peer: string, ms = this.#banMs): void {
    this.#until.set(peer, this.#now() + ms)
    this.#offences.delete(peer)
  }

  unban (peer: string): void {
    this.#until.delete(peer)
    this.#offences.delete(peer)
  }

  /** Counts an offence (`weight` times); true when it earns a ban. */
  offend (peer: string, weight = 1): boolean {
    const now = this.#now()
    for (const [p, o] of this.#offences) {
      if (now - o.at <= this.#forgetMs) break
      this.#offences.delete(p)
    }
    const count = (this.#offences.get(peer)?.count ?? 0) + weight
    this.#offences.delete(peer)
    this.#offences.set(peer, { count, at: now })
    if (count < this.#threshold) return false
    this.ban(peer)
    return true
  }

  get banned (): string[] {
    return [...this.#until.keys()].filter(p => this.isBanned(p))
  }
}
