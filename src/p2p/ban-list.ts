/**
 * Peers we refuse for a while: misbehaving ones are banned after repeated
 * offences. The connection gater consults it, so a banned peer can neither
 * dial us nor be dialed.
 */
export class BanList {
  readonly #until = new Map<string, number>()
  readonly #offences = new Map<string, number>()
  readonly #threshold: number
  readonly #banMs: number

  constructor (init: { threshold?: number, banMs?: number } = {}) {
    this.#threshold = init.threshold ?? 3
    this.#banMs = init.banMs ?? 10 * 60_000
  }

  isBanned (peer: string): boolean {
    const until = this.#until.get(peer)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.#until.delete(peer)
    return false
  }

  ban (peer: string, ms = this.#banMs): void {
    this.#until.set(peer, Date.now() + ms)
    this.#offences.delete(peer)
  }

  unban (peer: string): void {
    this.#until.delete(peer)
    this.#offences.delete(peer)
  }

  /** Counts an offence (`weight` times); true when it earns a ban. */
  offend (peer: string, weight = 1): boolean {
    const count = (this.#offences.get(peer) ?? 0) + weight
    this.#offences.set(peer, count)
    if (count < this.#threshold) return false
    this.ban(peer)
    return true
  }

  get banned (): string[] {
    return [...this.#until.keys()].filter(p => this.isBanned(p))
  }
}
