import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { Logger } from '../log.ts'
import type { Startable } from '../util/startable.ts'
import { addressOf, dialableAddresses, isThisHost } from './addresses.ts'
import type { BanList } from './ban-list.ts'
import { hostSubnet, type Subnet } from './subnet.ts'
import type { PeerPolicy } from './transport.ts'

export interface PeerManagerComponents {
  libp2p: Libp2p
  bans: BanList
  logger: Logger
}

export interface PeerManagerInit {
  /** Multiaddrs with /p2p/<peerId>: dialed at start and redialed when lost. */
  bootstrap: string[]
  /** Discovered peers are dialed until this many are connected. */
  targetPeers: number
  maintainIntervalMs?: number
  /** Clock in ms, replaceable in tests. */
  now?: () => number
}

/** Discovered peers remembered at most (mDNS on a busy LAN announces many). */
const MAX_DISCOVERED = 1_000
/** Longest wait between dials of a discovered peer that keeps failing. */
const MAX_BACKOFF_MS = 5 * 60_000

interface Candidate {
  addrs: Multiaddr[]
  failures: number
  /** No dial before this time (ms): doubled waits after failures, so dead peers do not crowd out live ones. */
  notBefore: number
}

/**
 * libp2p 3 does not dial what discovery finds: this does, up to a target count,
 * never ourselves, never a banned peer, never a remote peer's loopback address.
 * It also redials bootstrap peers it lost, and bans peers that keep misbehaving:
 * their key, and the address they connected from (an IPv6 one's /64), unless
 * that address is this host's own (see docs/architecture.md, "Bans").
 */
export class PeerManager implements PeerPolicy, Startable {
  readonly #c: PeerManagerComponents
  readonly #bootstrap: Array<{ peer: string, addr: Multiaddr }>
  readonly #targetPeers: number
  readonly #intervalMs: number
  /** In the order they were last tried (oldest first), so every candidate gets its turn. */
  readonly #discovered = new Map<string, Candidate>()
  readonly #now: () => number
  readonly #dialing = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  readonly #onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.discovered(evt.detail) }

  constructor (components: PeerManagerComponents, init: PeerManagerInit) {
    this.#c = components
    this.#bootstrap = init.bootstrap.map(text => {
      const addr = multiaddr(text)
      const peer = addr.getComponents().find(c => c.name === 'p2p')?.value
      if (peer === undefined) throw new Error(`bootstrap address ${text} has no /p2p/<peerId>`)
      return { peer, addr }
    })
    this.#targetPeers = init.targetPeers
    this.#intervalMs = init.maintainIntervalMs ?? 3_000
    this.#now = init.now ?? Date.now
  }

  async start (): Promise<void> {
    if (this.#timer !== undefined) return
    this.#c.libp2p.addEventListener('peer:discovery', this.#onDiscovery)
    this.#timer = setInterval(() => { this.#maintain() }, this.#intervalMs)
    this.#maintain()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#c.libp2p.removeEventListener('peer:discovery', this.#onDiscovery)
  }

  penalise (peer: string, reason: string, weight = 1): void {
    this.#c.logger.debug(`penalising ${peer}: ${reason}`)
    if (!this.#c.bans.offend(peer, weight, reason)) return
    const subnets = this.#bannableSubnets(peer)
    for (const subnet of subnets) this.#c.bans.banSubnet(subnet, undefined, `${reason} (peer ${peer})`)
    this.#c.logger.warn(`banned ${[peer, ...subnets.map(s => s.text)].join(' and ')}: ${reason}`)
    void this.hangUp(peer)
  }

  /**
   * The subnets a ban of `peer` covers: those of the addresses its connections
   * came from (never the addresses it claims: it could name a victim's), except
   * this host's own, which every local process shares.
   */
  #bannableSubnets (peer: string): Subnet[] {
    const subnets = new Map<string, Subnet>()
    for (const conn of this.#c.libp2p.getConnections(peerIdFromString(peer))) {
      const address = addressOf(conn.remoteAddr)
      if (address === undefined || isThisHost(address)) continue
      const subnet = hostSubnet(address)
      subnets.set(subnet.text, subnet)
    }
    return [...subnets.values()]
  }

  async hangUp (peer: string): Promise<void> {
    await this.#c.libp2p.hangUp(peerIdFromString(peer)).catch(() => {})
  }

  /** Dials a multiaddr given by a user (RPC addnode); it is redialed like a bootstrap peer. */
  async addPeer (text: string): Promise<void> {
    const addr = multiaddr(text)
    const peer = addr.getComponents().find(c => c.name === 'p2p')?.value
    if (peer !== undefined && !this.#bootstrap.some(b => b.peer === peer)) this.#bootstrap.push({ peer, addr })
    await this.#c.libp2p.dial(addr)
  }

  #connected (): Set<string> {
    return new Set(this.#c.libp2p.getPeers().map(p => p.toString()))
  }

  /** Fewer peers connected than the target. */
  wantsPeers (): boolean {
    return this.#connected().size < this.#targetPeers
  }

  /** A peer found by discovery (libp2p's peer:discovery, or the DHT rendezvous): a candidate to dial. */
  discovered (info: PeerInfo): void {
    const peer = info.id.toString()
    if (peer === this.#c.libp2p.peerId.toString() || info.multiaddrs.length === 0) return
    this.#discovered.delete(peer)
    if (this.#discovered.size >= MAX_DISCOVERED) {
      const oldest = this.#discovered.keys().next()
      if (oldest.done !== true) this.#discovered.delete(oldest.value)
    }
    this.#discovered.set(peer, { addrs: dialableAddresses(info.multiaddrs), failures: 0, notBefore: 0 })
    // A peer already connected is not dialled again: for one reached only through a relay, libp2p would dial its
    // direct (WebRTC) addresses on every discovery; DirectUpgrade makes that attempt once, and waits after a failure.
    const connected = this.#connected()
    if (connected.size < this.#targetPeers && !connected.has(peer)) this.#dialDiscovered(peer)
  }

  #maintain (): void {
    const connected = this.#connected()
    for (const { peer, addr } of this.#bootstrap) {
      if (!connected.has(peer)) this.#dial(peerIdFromString(peer), peer, [addr])
    }
    // Dials under way count toward the target; banned, connected and waiting peers do not take a turn.
    let count = connected.size + [...this.#dialing].filter(p => !connected.has(p)).length
    const now = this.#now()
    for (const [peer, candidate] of [...this.#discovered]) {
      if (count >= this.#targetPeers) break
      if (connected.has(peer) || this.#dialing.has(peer) || candidate.notBefore > now || this.#c.bans.isBanned(peer)) continue
      this.#dialDiscovered(peer)
      count++
    }
  }

  /** Dials a discovered peer, moving it to the back of the turn order; failures back it off. */
  #dialDiscovered (peer: string): void {
    const candidate = this.#discovered.get(peer)
    if (candidate === undefined) return
    this.#discovered.delete(peer)
    this.#discovered.set(peer, candidate)
    this.#dial(peerIdFromString(peer), peer, candidate.addrs, ok => {
      candidate.failures = ok ? 0 : candidate.failures + 1
      candidate.notBefore = ok ? 0 : this.#now() + Math.min(MAX_BACKOFF_MS, this.#intervalMs * 2 ** candidate.failures)
    })
  }

  #dial (id: PeerId, peer: string, addrs: Multiaddr[], done?: (ok: boolean) => void): void {
    if (this.#dialing.has(peer) || this.#c.bans.isBanned(peer) || peer === this.#c.libp2p.peerId.toString()) return
    this.#dialing.add(peer)
    // Dial the addresses themselves: the peer store may also hold the peer's loopback ones.
    void this.#c.libp2p.dial(addrs.map(a => a.getComponents().some(c => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${id.toString()}`)))
      .then(() => { done?.(true) }, err => {
        this.#c.logger.debug(`dial ${peer} failed: ${(err as Error).message}`)
        done?.(false)
      })
      .finally(() => { this.#dialing.delete(peer) })
  }
}
