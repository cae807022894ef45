import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Block } from '../core/block.ts'
import { genesisBlock, type NetworkParams } from '../core/params.ts'
import type { ChainEventSource } from '../chain/ports.ts'
import type { SyncChain } from './sync-service.ts'
import type { MempoolEntry, TipChange } from '../chain/types.ts'
import { MAX_TX_BYTES } from '../core/tx.ts'
import type { Logger } from '../log.ts'
import { ServiceList, type Startable } from '../util/startable.ts'
import { addressOf, transportOf } from './addresses.ts'
import type { BanFile } from './ban-file.ts'
import type { BanList } from './ban-list.ts'
import type { ChainGossip, ChainGossipComponents } from './chain-gossip.ts'
import type { ConnectionBytes, TrafficTotals } from './connection-bytes.ts'
import type { DhtRendezvous } from './dht-rendezvous.ts'
import type { CointsLibp2p } from './libp2p-node.ts'
import type { NatStatus } from './nat-service.ts'
import { peerInfoOf, type PeerInfoView } from './peer-report.ts'
import type { PeerKeyFile } from './peer-key.ts'
import type { PeerManager } from './peer-manager.ts'
import type { StreamTransport } from './stream-transport.ts'
import type { SyncService } from './sync-service.ts'
import type { Subnet } from './subnet.ts'

/** Most transactions pushed to a peer after one reorganisation. */
const MAX_PUSHED_TXS = 5_000

/** The network's protocols begin with this: /coints/<network>/<genesis id> (sync, transaction push, the DHT and its rendezvous). */
export function protocolPrefixOf (params: NetworkParams): string {
  return `/coints/${params.name}/${genesisBlock(params).idString}`
}

export type { PeerInfoView }

/** What networking reads of the chain, and hands it: sync's and gossip's, and the events it relays. */
export type P2PChain = ChainEventSource & SyncChain & ChainGossipComponents['chain']

/**
 * The parts of networking, each built by the composition root
 * (src/node/build-network.ts) over one libp2p node created stopped.
 */
export interface P2PComponents {
  chain: P2PChain
  libp2p: CointsLibp2p
  peerKey: PeerKeyFile
  bans: BanList
  banFile: BanFile
  bytes: ConnectionBytes
  peers: PeerManager
  transport: StreamTransport
  sync: SyncService
  gossip: ChainGossip
  rendezvous: DhtRendezvous
  logger: Logger
}

export interface P2PInit {
  /** protocolPrefixOf the network. */
  protocolPrefix: string
}

export interface NetworkInfoView extends NatStatus {
  peerId: string
  /** Bytes moved since start over relayed and direct connections. */
  traffic: TrafficTotals
  /** The addresses peers are told of (dial one of these to reach this node). */
  addresses: string[]
  connections: number
}

/** How a peer is connected, kept from its connection to its disconnection (then the connection is gone). */
interface PeerLink { direction: string, transport: string, addr: string, since: number }

/**
 * The networking service: a libp2p node carrying block and transaction gossip
 * and the sync protocol, with peer discovery, dialing and bans. It is handed
 * its parts built, starts them in the order they depend on each other (the
 * ban list before libp2p gates a connection, libp2p before what runs on it)
 * and stops them in reverse; itself it relays the chain's transactions to
 * gossip and logs peers coming and going.
 */
export class P2PService implements Startable {
  readonly #c: P2PComponents
  readonly #log: Logger
  readonly #txPushProtocol: string
  readonly #links = new Map<string, PeerLink>()
  readonly #parts: ServiceList
  #relaying = false

  constructor (components: P2PComponents, init: P2PInit) {
    this.#c = components
    this.#log = components.logger
    this.#txPushProtocol = `${init.protocolPrefix}/tx/1.0.0`
    const { peerKey, banFile, libp2p, bytes, sync, gossip, peers, rendezvous } = components
    this.#parts = new ServiceList([
      peerKey,
      // Its bans gate libp2p's connections from the first.
      banFile,
      // Peers coming and going are followed (logged, told to sync) for as long as libp2p runs, its closing connections at a stop too.
      { start: async () => { this.#followPeers(true) }, stop: async () => { this.#followPeers(false) } },
      { start: async () => { await libp2p.start() }, stop: async () => { await libp2p.stop() } },
      bytes,
      { start: async () => { await this.#relay() }, stop: async () => { await this.#unrelay() } },
      sync,
      gossip,
      peers,
      rendezvous
    ])
  }

  get libp2p (): CointsLibp2p { return this.#c.libp2p }
  get bans (): BanList { return this.#c.bans }
  get sync (): SyncService { return this.#c.sync }
  get gossip (): ChainGossip { return this.#c.gossip }
  get peers (): PeerManager { return this.#c.peers }

  async start (): Promise<void> {
    // False: stopped meanwhile, having started nothing more.
    if (!await this.#parts.start()) return
    const { libp2p } = this.#c
    this.#log.info(`p2p ${libp2p.peerId.toString()} listening on ${libp2p.getMultiaddrs().map(String).join(', ') || '(nothing)'}`)
  }

  async stop (): Promise<void> {
    await this.#parts.stop()
  }

  async #relay (): Promise<void> {
    const { chain, transport, gossip } = this.#c
    // Every transaction entering the mempool is gossiped (gossip's seen-cache drops the ones
    // peers sent us); those a reorganisation returned are pushed to peers as well.
    chain.on('tx:accepted', this.#announceTx)
    chain.on('tip', this.#pushReturned)
    this.#relaying = true
    await transport.handle(this.#txPushProtocol, async (body, peer) => {
      await gossip.validateTx(body, peer)
      return new Uint8Array(0)
    }, { maxRequestBytes: MAX_TX_BYTES })
  }

  async #unrelay (): Promise<void> {
    const { chain, transport } = this.#c
    chain.off('tx:accepted', this.#announceTx)
    chain.off('tip', this.#pushReturned)
    // Nothing to unhandle after a start that failed before this part (libp2p's listen).
    if (!this.#relaying) return
    this.#relaying = false
    await transport.unhandle(this.#txPushProtocol)
  }

  #followPeers (on: boolean): void {
    const { libp2p } = this.#c
    if (on) {
      libp2p.addEventListener('peer:connect', this.#onConnect)
      libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    } else {
      libp2p.removeEventListener('peer:connect', this.#onConnect)
      libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    }
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    this.#peerConnected(evt.detail.toString())
    this.#c.sync.peerConnected(evt.detail.toString())
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#peerDisconnected(evt.detail.toString())
    this.#c.sync.peerDisconnected(evt.detail.toString())
  }

  #peerConnected (peer: string): void {
    const conn = this.libp2p.getConnections().find(c => c.remotePeer.toString() === peer)
    if (conn === undefined) return
    const link = { direction: conn.direction, transport: transportOf(conn.remoteAddr), addr: conn.remoteAddr.toString(), since: Date.now() }
    this.#links.set(peer, link)
    const count = this.libp2p.getPeers().length
    this.#log.info(`peer connected: ${peer}, ${link.direction} over ${link.transport} (${link.addr}); ${count} peer${count === 1 ? '' : 's'}`, { event: 'peer-connected', peer, ...link, peers: count })
  }

  #peerDisconnected (peer: string): void {
    const link = this.#links.get(peer)
    this.#links.delete(peer)
    const count = this.libp2p.getPeers().length
    const seconds = link === undefined ? undefined : (Date.now() - link.since) / 1000
    const how = link === undefined ? '' : `, ${link.direction} over ${link.transport}, after ${seconds?.toFixed(0) ?? '?'} s`
    this.#log.info(`peer disconnected: ${peer}${how}; ${count} peer${count === 1 ? '' : 's'}`, { event: 'peer-disconnected', peer, direction: link?.direction, transport: link?.transport, seconds, peers: count })
  }

  publishBlock (block: Block): void {
    void this.#c.gossip.publishBlock(block).catch(err => { this.#log.warn(`publishing block ${block.idString} failed: ${(err as Error).message}`) })
  }

  /**
   * Transactions a reorganisation put back in the mempool were gossiped before,
   * so gossip's seen-cache would drop them: they are pushed to each peer directly.
   */
  readonly #pushReturned = (change: TipChange): void => {
    const protocol = this.#txPushProtocol
    if (change.returned.length === 0) return
    const { transport } = this.#c
    for (const peer of this.libp2p.getPeers().map(String)) {
      void (async () => {
        for (const tx of change.returned.slice(0, MAX_PUSHED_TXS)) {
          await transport.request(peer, protocol, tx.bytes, { timeoutMs: 10_000, maxResponseBytes: 16 })
        }
      })().catch(err => { this.#log.debug(`pushing returned transactions to ${peer} failed: ${(err as Error).message}`) })
    }
  }

  readonly #announceTx = (entry: MempoolEntry): void => {
    void this.#c.gossip.publishTx(entry.tx).catch(err => { this.#log.warn(`publishing transaction ${entry.tx.idString} failed: ${(err as Error).message}`) })
  }

  /** Bans a peer id until `until` (ms) and hangs up on it: how a swarm partitions loopback nodes. */
  async banPeer (peerId: string, until: number, reason: string): Promise<void> {
    this.bans.ban(peerId, until - Date.now(), reason)
    this.#log.info(`banned ${peerId} until ${new Date(until).toISOString()}: ${reason}`, { event: 'ban', target: peerId, until, reason })
    await this.peers.hangUp(peerId)
  }

  /** Bans a subnet until `until` (ms) and closes every connection from it, whatever its key. */
  async banSubnet (subnet: Subnet, until: number, reason: string): Promise<void> {
    this.bans.banSubnet(subnet, until - Date.now(), reason)
    this.#log.info(`banned ${subnet.text} until ${new Date(until).toISOString()}: ${reason}`, { event: 'ban', target: subnet.text, until, reason })
    const covered = this.libp2p.getConnections().filter(conn => {
      const address = addressOf(conn.remoteAddr)
      return address !== undefined && subnet.contains(address)
    })
    await Promise.all(covered.map(async conn => { await conn.close().catch(() => { conn.abort(new Error('banned')) }) }))
  }

  /** getpeerinfo: each peer with its connections, their bytes counted to now. */
  async peerInfo (): Promise<PeerInfoView[]> {
    await this.#c.bytes.update()
    return this.connectedPeers()
  }

  /** Each peer with its connections (WebRTC's bytes as last counted): the explorer's and the metrics' view, getpeerinfo's without the wait. */
  connectedPeers (): PeerInfoView[] {
    return peerInfoOf(this.libp2p, this.#c.bytes, peer => this.sync.peerHeight(peer))
  }

  async networkInfo (): Promise<NetworkInfoView> {
    const { libp2p, bytes } = this.#c
    await bytes.update()
    return { peerId: libp2p.peerId.toString(), addresses: libp2p.getMultiaddrs().map(String), connections: libp2p.getConnections().length, traffic: bytes.totals(), ...libp2p.services.nat.status() }
  }

  async addNode (address: string): Promise<void> {
    multiaddr(address)
    await this.peers.addPeer(address)
  }

  async disconnectNode (peerId: string): Promise<void> {
    await this.peers.hangUp(peerId)
  }
}

