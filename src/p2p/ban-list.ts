import { parseAddress, parseSubnet, Subnet } from './subnet.ts'

/**
 * A ban in force: of one peer id, or of a subnet (every address in it, with
 * whatever key it comes back).
 */
export interface Ban {
  kind: 'peer' | 'address'
  /** The peer id, or the subnet's canonical CIDR text ("203.0.113.7/32"). */
  target: string
  /** When the ban was made and when it ends, in ms since the epoch. */
  created: number
  until: number
  reason: string
}

export interface BanListInit {
  /** Offences within `forgetMs` of each other that earn a ban. */
  threshold?: number
  /** How long a ban earned by offences lasts. */
  banMs?: number
  /** A peer's offences are forgotten after this long without a new one: honest peers time out now and then. */
  forgetMs?: number
  /** Most bans held: past it, the one that ends soonest goes (bans earned with new keys or new IPv6 subnets would otherwise grow without end). */
  maxBans?: number
  /** Clock in ms, replaceable in tests. */
  now?: () => number
}

/** Bitcoin Core's default ban time (its -bantime, once applied to misbehaving peers too). */
export const DEFAULT_BAN_MS = 24 * 60 * 60_000

/**
 * Peers and subnets we refuse for a while: misbehaving peers are banned after
 * repeated offences, and users ban by hand (RPC setban). The connection gater
 * consults it, so a banned peer or address can neither dial us nor be dialed.
 * Every change of the bans (not of offences) is announced by `onChange`, for
 * the ban file.
 */
export class BanList {
  readonly #peers = new Map<string, Ban>()
  /** Address bans by canonical subnet text. */
  readonly #subnets = new Map<string, { ban: Ban, subnet: Subnet }>()
  /** Address bans in force per prefix length, by address size (4 or 16 bytes): a lookup tries only the lengths in use. */
  readonly #prefixes = new Map<number, number[]>([[4, Array<number>(33).fill(0)], [16, Array<number>(129).fill(0)]])
  /** Offence counts by peer, in the order of their last offence (oldest first), so forgotten ones are pruned from the front. */
  readonly #offences = new Map<string, { count: number, at: number }>()
  readonly #threshold: number
  readonly #banMs: number
  readonly #forgetMs: number
  readonly #maxBans: number
  readonly #now: () => number
  readonly #listeners: Array<() => void> = []
  /** Bans made since start (by offences, by hand), by kind: for metrics. */
  readonly given = { peer: 0, address: 0 }

  constructor (init: BanListInit = {}) {
    this.#threshold = init.threshold ?? 3
    this.#banMs = init.banMs ?? DEFAULT_BAN_MS
    this.#forgetMs = init.forgetMs ?? 10 * 60_000
    this.#maxBans = init.maxBans ?? 10_000
    this.#now = init.now ?? Date.now
  }

  /** Calls `listener` after each change of the bans. */
  onChange (listener: () => void): void {
    this.#listeners.push(listener)
  }

  isBanned (peer: string): boolean {
    const ban = this.#peers.get(peer)
    if (ban === undefined) return false
    if (ban.until > this.#now()) return true
    this.#peers.delete(peer)
    return false
  }

  /** Whether an address (text or bytes) lies in a banned subnet. */
  isAddressBanned (address: string | Uint8Array): boolean {
    const bytes = typeof address === 'string' ? parseAddress(address) : address
    const counts = bytes === undefined ? undefined : this.#prefixes.get(bytes.length)
    if (bytes === undefined || counts === undefined) return false
    for (let prefix = 0; prefix < counts.length; prefix++) {
      if (counts[prefix] === 0) continue
      const key = new Subnet(bytes, prefix).text
      const held = this.#subnets.get(key)
      if (held === undefined) continue
      if (held.ban.until > this.#now()) return true
      this.#dropSubnet(key)
    }
    return false
  }

  ban (peer: string, ms = this.#banMs, reason = 'misbehaving'): void {
    this.#offences.delete(peer)
    this.#peers.set(peer, this.#newBan('peer', peer, ms, reason))
    this.given.peer++
    this.#added()
  }

  banSubnet (subnet: Subnet, ms = this.#banMs, reason = 'misbehaving'): void {
    if (this.#subnets.has(subnet.text)) this.#dropSubnet(subnet.text)
    this.#subnets.set(subnet.text, { ban: this.#newBan('address', subnet.text, ms, reason), subnet })
    this.#counts(subnet)[subnet.prefix]++
    this.given.address++
    this.#added()
  }

  /** Lifts a peer's ban (and forgets its offences); false when it had none. */
  unban (peer: string): boolean {
    this.#offences.delete(peer)
    const had = this.isBanned(peer)
    this.#peers.delete(peer)
    if (had) this.#changed()
    return had
  }

  /** Lifts the ban of exactly this subnet; false when it had none. */
  unbanSubnet (subnet: Subnet): boolean {
    const held = this.#subnets.get(subnet.text)
    if (held === undefined) return false
    this.#dropSubnet(subnet.text)
    if (held.ban.until <= this.#now()) return false
    this.#changed()
    return true
  }

  clear (): void {
    this.#peers.clear()
    for (const key of [...this.#subnets.keys()]) this.#dropSubnet(key)
    this.#offences.clear()
    this.#changed()
  }

  /** Counts an offence (`weight` times); true when it earns a ban (which it then holds). */
  offend (peer: string, weight = 1, reason = 'misbehaving'): boolean {
    const now = this.#now()
    for (const [p, o] of this.#offences) {
      if (now - o.at <= this.#forgetMs) break
      this.#offences.delete(p)
    }
    const count = (this.#offences.get(peer)?.count ?? 0) + weight
    this.#offences.delete(peer)
    this.#offences.set(peer, { count, at: now })
    if (count < this.#threshold) return false
    this.ban(peer, this.#banMs, reason)
    return true
  }

  /** How far a peer's offences have come toward a ban: 0 (none, or forgotten) up to 1 (banned). */
  offenceLevel (peer: string): number {
    if (this.isBanned(peer)) return 1
    const o = this.#offences.get(peer)
    if (o === undefined || this.#now() - o.at > this.#forgetMs) return 0
    return Math.min(1, o.count / this.#threshold)
  }

  /** The bans in force, oldest first. */
  list (): Ban[] {
    const now = this.#now()
    const bans = [...this.#peers.values(), ...[...this.#subnets.values()].map(h => h.ban)]
    return bans.filter(b => b.until > now).sort((a, b) => a.created - b.created)
  }

  /** Peer ids and subnets banned now. */
  get banned (): string[] {
    return this.list().map(b => b.target)
  }

  /** Takes bans back (from the ban file) without announcing a change; ended ones are dropped. */
  restore (bans: Ban[]): void {
    const now = this.#now()
    for (const ban of bans) {
      if (ban.until <= now) continue
      if (ban.kind === 'peer') {
        this.#peers.set(ban.target, ban)
      } else {
        const subnet = parseSubnet(ban.target)
        if (this.#subnets.has(subnet.text)) this.#dropSubnet(subnet.text)
        this.#subnets.set(subnet.text, { ban: { ...ban, target: subnet.text }, subnet })
        this.#counts(subnet)[subnet.prefix]++
      }
    }
    this.#trim()
  }

  #newBan (kind: Ban['kind'], target: string, ms: number, reason: string): Ban {
    const now = this.#now()
    return { kind, target, created: now, until: now + ms, reason }
  }

  #counts (subnet: Subnet): number[] {
    return this.#prefixes.get(subnet.network.length) as number[]
  }

  #dropSubnet (key: string): void {
    const held = this.#subnets.get(key)
    if (held === undefined) return
    this.#subnets.delete(key)
    this.#counts(held.subnet)[held.subnet.prefix]--
  }

  #added (): void {
    this.#trim()
    this.#changed()
  }

  /** Past the most bans held, the ones ending soonest go (ended ones first). */
  #trim (): void {
    while (this.#peers.size + this.#subnets.size > this.#maxBans) {
      let soonest: Ban | undefined
      for (const ban of this.#peers.values()) if (soonest === undefined || ban.until < soonest.until) soonest = ban
      for (const { ban } of this.#subnets.values()) if (soonest === undefined || ban.until < soonest.until) soonest = ban
      if (soonest === undefined) return
      if (soonest.kind === 'peer') this.#peers.delete(soonest.target)
      else this.#dropSubnet(soonest.target)
    }
  }

  #changed (): void {
    for (const listener of this.#listeners) listener()
  }
}
