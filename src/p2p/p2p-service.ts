import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Block } from '../core/block.ts'
import { genesisBlock } from '../core/params.ts'
import type { ChainEventSource } from '../chain/ports.ts'
import type { SyncChain } from './sync-service.ts'
import type { MempoolEntry, TipChange } from '../chain/types.ts'
import { MAX_TX_BYTES } from '../core/tx.ts'
import type { Registry } from 'prom-client'
import { createLogger, createProgress, type Logger } from '../log.ts'
import type { Startable } from '../util/startable.ts'
import { addressOf, transportOf } from './addresses.ts'
import { BanFile, BANS_FILE } from './ban-file.ts'
import { BanList } from './ban-list.ts'
import { ChainGossip, gossipMessageId, gossipTopics, type ChainGossipComponents } from './chain-gossip.ts'
import { GossipsubTransport } from './gossip-transport.ts'
import { ConnectionBytes, type TrafficTotals } from './connection-bytes.ts'
import { DhtRendezvous } from './dht-rendezvous.ts'
import { createLibp2pNode, type CointsLibp2p, type NatInit } from './libp2p-node.ts'
import type { NatStatus } from './nat-service.ts'
import { peerInfoOf, type PeerInfoView } from './peer-report.ts'
import { loadOrCreatePeerKey } from './peer-key.ts'
import { PeerManager } from './peer-manager.ts'
import { StreamTransport } from './stream-transport.ts'
import { SyncService } from './sync-service.ts'
import type { Subnet } from './subnet.ts'

/** Most transactions pushed to a peer after one reorganisation. */
const MAX_PUSHED_TXS = 5_000

export interface P2PInit {
  datadir: string
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  maxPeers: number
  statusIntervalMs?: number
  /** libp2p's own metrics go here (@libp2p/prometheus-metrics); none when undefined. */
  metrics?: Registry
  nat: Omit<NatInit, 'dhtProtocol'>
}

export type { PeerInfoView }

/** What networking reads of the chain, and hands it: sync's and gossip's, and the events it relays. */
export type P2PChain = ChainEventSource & SyncChain & ChainGossipComponents['chain']

export interface P2PComponents {
  chain: P2PChain
  mempool: ChainGossipComponents['mempool']
  logger?: Logger
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
 * and the sync protocol, with peer discovery, dialing and bans.
 */
export class P2PService implements Startable {
  readonly #chain: P2PChain
  readonly #mempool: P2PComponents['mempool']
  readonly #init: P2PInit
  readonly #log: Logger
  readonly bans = new BanList()
  readonly #banFile: BanFile
  #libp2p: CointsLibp2p | undefined
  #peers: PeerManager | undefined
  #sync: SyncService | undefined
  #gossip: ChainGossip | undefined
  #transport: StreamTransport | undefined
  #txPushProtocol: string | undefined
  readonly #links = new Map<string, PeerLink>()
  #bytes: ConnectionBytes | undefined
  #rendezvous: DhtRendezvous | undefined
  #starting: Promise<void> | undefined

  constructor (components: P2PComponents, init: P2PInit) {
    this.#chain = components.chain
    this.#mempool = components.mempool
    this.#init = init
    this.#log = components.logger ?? createLogger('p2p')
    this.#banFile = new BanFile({ bans: this.bans, logger: this.#log }, { path: join(init.datadir, BANS_FILE) })
  }

  get libp2p (): CointsLibp2p {
    if (this.#libp2p === undefined) throw new Error('p2p is not started')
    return this.#libp2p
  }

  get sync (): SyncService {
    if (this.#sync === undefined) throw new Error('p2p is not started')
    return this.#sync
  }

  get gossip (): ChainGossip {
    if (this.#gossip === undefined) throw new Error('p2p is not started')
    return this.#gossip
  }

  /** Whether the service is running (its parts exist). */
  get started (): boolean { return this.#libp2p !== undefined }

  get peers (): PeerManager {
    if (this.#peers === undefined) throw new Error('p2p is not started')
    return this.#peers
  }

  async start (): Promise<void> {
    this.#starting ??= this.#start()
    await this.#starting
  }

  async #start (): Promise<void> {
    const params = this.#chain.params
    const topics = gossipTopics(params)
    const protocolPrefix = `/coints/${params.name}/${genesisBlock(params).idString}`
    await this.#banFile.load()
    const libp2p = await createLibp2pNode({
      privateKey: await loadOrCreatePeerKey(this.#init.datadir),
      listen: this.#init.listen,
      bootstrap: this.#init.bootstrap,
      mdns: this.#init.mdns,
      maxPeers: this.#init.maxPeers,
      bans: this.bans,
      topics: [topics.blocks, topics.txs],
      messageId: (topic, data) => gossipMessageId(topics, topic, data),
      metrics: this.#init.metrics,
      datadir: this.#init.datadir,
      nat: { ...this.#init.nat, dhtProtocol: protocolPrefix }
    })
    this.#libp2p = libp2p
    this.#bytes = new ConnectionBytes(libp2p)
    this.#bytes.start()
    const peers = new PeerManager({ libp2p, bans: this.bans, logger: this.#log }, { bootstrap: this.#init.bootstrap, targetPeers: Math.min(8, this.#init.maxPeers) })
    this.#peers = peers
    const transport = new StreamTransport({ libp2p, peers, logger: this.#log })
    this.#transport = transport
    const sync = new SyncService(
      { chain: this.#chain, transport, peers, logger: this.#log, progress: createProgress('sync') },
      { protocolPrefix, statusIntervalMs: this.#init.statusIntervalMs }
    )
    this.#sync = sync
    const gossip = new ChainGossip({
      chain: this.#chain,
      mempool: this.#mempool,
      transport: new GossipsubTransport(libp2p.services.pubsub),
      peers,
      logger: this.#log,
      onOrphan: peer => { sync.requestSync(peer) },
      onConnected: (peer, height) => { sync.peerRelayed(peer, height) }
    })
    this.#gossip = gossip
    // Every transaction entering the mempool is gossiped (gossip's seen-cache drops the ones
    // peers sent us); those a reorganisation returned are pushed to peers as well.
    this.#chain.on('tx:accepted', this.#announceTx)
    this.#chain.on('tip', this.#pushReturned)
    this.#txPushProtocol = `${protocolPrefix}/tx/1.0.0`
    await transport.handle(this.#txPushProtocol, async (body, peer) => {
      await gossip.validateTx(body, peer)
      return new Uint8Array(0)
    }, { maxRequestBytes: MAX_TX_BYTES })
    libp2p.addEventListener('peer:connect', evt => {
      this.#peerConnected(evt.detail.toString())
      sync.peerConnected(evt.detail.toString())
    })
    libp2p.addEventListener('peer:disconnect', evt => {
      this.#peerDisconnected(evt.detail.toString())
      sync.peerDisconnected(evt.detail.toString())
    })
    await sync.start()
    await gossip.start()
    await peers.start()
    this.#rendezvous = new DhtRendezvous({ libp2p, logger: this.#log, wantsPeers: () => peers.wantsPeers(), onPeer: info => { peers.discovered(info) } }, { namespace: protocolPrefix })
    await this.#rendezvous.start()
    this.#log.info(`p2p ${libp2p.peerId.toString()} listening on ${libp2p.getMultiaddrs().map(String).join(', ') || '(nothing)'}`)
  }

  async stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    this.#starting = undefined
    this.#chain.off('tx:accepted', this.#announceTx)
    this.#chain.off('tip', this.#pushReturned)
    this.#rendezvous?.stop()
    this.#bytes?.stop()
    await this.#peers?.stop()
    await this.#gossip?.stop()
    await this.#sync?.stop()
    await this.#libp2p?.stop()
    this.#libp2p = undefined
    await this.#banFile.flush()
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
    const count = this.#libp2p?.getPeers().length ?? 0
    const seconds = link === undefined ? undefined : (Date.now() - link.since) / 1000
    const how = link === undefined ? '' : `, ${link.direction} over ${link.transport}, after ${seconds?.toFixed(0) ?? '?'} s`
    this.#log.info(`peer disconnected: ${peer}${how}; ${count} peer${count === 1 ? '' : 's'}`, { event: 'peer-disconnected', peer, direction: link?.direction, transport: link?.transport, seconds, peers: count })
  }

  publishBlock (block: Block): void {
    void this.#gossip?.publishBlock(block).catch(err => { this.#log.warn(`publishing block ${block.idString} failed: ${(err as Error).message}`) })
  }

  /**
   * Transactions a reorganisation put back in the mempool were gossiped before,
   * so gossip's seen-cache would drop them: they are pushed to each peer directly.
   */
  readonly #pushReturned = (change: TipChange): void => {
    const protocol = this.#txPushProtocol
    if (change.returned.length === 0 || protocol === undefined || this.#transport === undefined) return
    const transport = this.#transport
    for (const peer of this.libp2p.getPeers().map(String)) {
      void (async () => {
        for (const tx of change.returned.slice(0, MAX_PUSHED_TXS)) {
          await transport.request(peer, protocol, tx.bytes, { timeoutMs: 10_000, maxResponseBytes: 16 })
        }
      })().catch(err => { this.#log.debug(`pushing returned transactions to ${peer} failed: ${(err as Error).message}`) })
    }
  }

  readonly #announceTx = (entry: MempoolEntry): void => {
    void this.#gossip?.publishTx(entry.tx).catch(err => { this.#log.warn(`publishing transaction ${entry.tx.idString} failed: ${(err as Error).message}`) })
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
    if (this.#bytes === undefined) throw new Error('p2p is not started')
    await this.#bytes.update()
    return this.connectedPeers()
  }

  /** Each peer with its connections (WebRTC's bytes as last counted): the explorer's and the metrics' view, getpeerinfo's without the wait. */
  connectedPeers (): PeerInfoView[] {
    if (this.#bytes === undefined) throw new Error('p2p is not started')
    return peerInfoOf(this.libp2p, this.#bytes, peer => this.sync.peerHeight(peer))
  }

  async networkInfo (): Promise<NetworkInfoView> {
    const libp2p = this.libp2p
    if (this.#bytes === undefined) throw new Error('p2p is not started')
    await this.#bytes.update()
    return { peerId: libp2p.peerId.toString(), addresses: libp2p.getMultiaddrs().map(String), connections: libp2p.getConnections().length, traffic: this.#bytes.totals(), ...libp2p.services.nat.status() }
  }

  async addNode (address: string): Promise<void> {
    multiaddr(address)
    await this.peers.addPeer(address)
  }

  async disconnectNode (peerId: string): Promise<void> {
    await this.peers.hangUp(peerId)
  }
}

