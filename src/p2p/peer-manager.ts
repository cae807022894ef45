import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { Logger } from '../log.ts'
import { dialableAddresses } from './addresses.ts'
import type { BanList } from './ban-list.ts'
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
}

/**
 * libp2p 3 does not dial what discovery finds: this does, up to a target count,
 * never ourselves, never a banned peer, never a remote peer's loopback address.
 * It also redials bootstrap peers it lost, and bans peers that keep misbehaving.
 */
export class PeerManager implements PeerPolicy {
  readonly #c: PeerManagerComponents
  readonly #bootstrap: Array<{ peer: string, addr: Multiaddr }>
  readonly #targetPeers: number
  readonly #intervalMs: number
  readonly #discovered = new Map<string, Multiaddr[]>()
  readonly #dialing = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  readonly #onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.#discoveredPeer(evt.detail) }

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
  }

  start (): void {
    this.#c.libp2p.addEventListener('peer:discovery', this.#onDiscovery)
    this.#timer = setInterval(() => { this.#maintain() }, this.#intervalMs)
    this.#maintain()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#c.libp2p.removeEventListener('peer:discovery', this.#onDiscovery)
  }

  penalise (peer: string, reason: string, weight = 1): void {
    this.#c.logger.debug(`penalising ${peer}: ${reason}`)
    if (this.#c.bans.offend(peer, weight)) void this.ban(peer, reason)
  }

  async ban (peer: string, reason: string): Promise<void> {
    this.#c.bans.ban(peer)
    this.#c.logger.warn(`banned ${peer}: ${reason}`)
    await this.hangUp(peer)
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

  #discoveredPeer (info: PeerInfo): void {
    const peer = info.id.toString()
    if (peer === this.#c.libp2p.peerId.toString() || info.multiaddrs.length === 0) return
    this.#discovered.set(peer, dialableAddresses(info.multiaddrs))
    if (this.#connected().size < this.#targetPeers) this.#dial(info.id, peer, this.#discovered.get(peer) as Multiaddr[])
  }

  #maintain (): void {
    const connected = this.#connected()
    for (const { peer, addr } of this.#bootstrap) {
      if (!connected.has(peer)) this.#dial(peerIdFromString(peer), peer, [addr])
    }
    let count = connected.size
    for (const [peer, addrs] of this.#discovered) {
      if (count >= this.#targetPeers) break
      if (connected.has(peer)) continue
      this.#dial(peerIdFromString(peer), peer, addrs)
      count++
    }
  }

  #dial (id: PeerId, peer: string, addrs: Multiaddr[]): void {
    if (this.#dialing.has(peer) || this.#c.bans.isBanned(peer) || peer === this.#c.libp2p.peerId.toString()) return
    this.#dialing.add(peer)
    // Dial the addresses themselves: the peer store may also hold the peer's loopback ones.
    void this.#c.libp2p.dial(addrs.map(a => a.getComponents().some(c => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${id.toString()}`)))
      .catch(err => { this.#c.logger.debug(`dial ${peer} failed: ${(err as Error).message}`) })
      .finally(() => { this.#dialing.delete(peer) })
  }
}
