import { join } from 'node:path'
import type { Registry } from 'prom-client'
import type { NetworkParams } from '../core/params.ts'
import { createLogger, createProgress, type Logger } from '../log.ts'
import { BanFile, BANS_FILE } from '../p2p/ban-file.ts'
import { BanList } from '../p2p/ban-list.ts'
import { ChainGossip, gossipMessageId, gossipTopics, type ChainGossipComponents } from '../p2p/chain-gossip.ts'
import { ConnectionBytes } from '../p2p/connection-bytes.ts'
import { DhtRendezvous } from '../p2p/dht-rendezvous.ts'
import { GossipsubTransport } from '../p2p/gossip-transport.ts'
import { createLibp2pNode, type CointsLibp2p, type NatInit } from '../p2p/libp2p-node.ts'
import { P2PService, protocolPrefixOf, type P2PChain } from '../p2p/p2p-service.ts'
import { PeerKeyFile } from '../p2p/peer-key.ts'
import { PeerManager } from '../p2p/peer-manager.ts'
import { StreamTransport } from '../p2p/stream-transport.ts'
import { SyncService } from '../p2p/sync-service.ts'

/** Everything networking is built from (the node fills it from its options). */
export interface NetworkOptions {
  params: NetworkParams
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

/**
 * What networking is built on that takes awaiting: the node's key (read, not
 * yet written) and libp2p, created stopped, with the ban list that gates it.
 */
export interface NetworkBase {
  options: NetworkOptions
  libp2p: CointsLibp2p
  peerKey: PeerKeyFile
  bans: BanList
}

/** The asynchronous half of building networking (js-libp2p's createLibp2p with start: false): nothing listens, nothing is written. */
export async function createNetworkBase (options: NetworkOptions): Promise<NetworkBase> {
  const { params } = options
  const topics = gossipTopics(params)
  const bans = new BanList()
  const peerKey = await PeerKeyFile.load(options.datadir)
  const libp2p = await createLibp2pNode({
    start: false,
    privateKey: peerKey.key,
    listen: options.listen,
    bootstrap: options.bootstrap,
    mdns: options.mdns,
    maxPeers: options.maxPeers,
    bans,
    topics: [topics.blocks, topics.txs],
    messageId: (topic, data) => gossipMessageId(topics, topic, data),
    metrics: options.metrics,
    datadir: options.datadir,
    nat: { ...options.nat, dhtProtocol: protocolPrefixOf(params) }
  })
  return { options, libp2p, peerKey, bans }
}

export interface NetworkComponents {
  chain: P2PChain
  mempool: ChainGossipComponents['mempool']
  logger?: Logger
}

/**
 * The synchronous half: networking's services over the libp2p node, each
 * handed what it needs, and the P2PService that starts them in order.
 */
export function buildNetwork (base: NetworkBase, components: NetworkComponents): P2PService {
  const { options, libp2p, peerKey, bans } = base
  const { chain, mempool } = components
  const logger = components.logger ?? createLogger('p2p')
  const protocolPrefix = protocolPrefixOf(options.params)
  const peers = new PeerManager({ libp2p, bans, logger }, { bootstrap: options.bootstrap, targetPeers: Math.min(8, options.maxPeers) })
  const transport = new StreamTransport({ libp2p, peers, logger })
  const sync = new SyncService(
    { chain, transport, peers, logger, progress: createProgress('sync') },
    { protocolPrefix, statusIntervalMs: options.statusIntervalMs }
  )
  const gossip = new ChainGossip({
    chain,
    mempool,
    transport: new GossipsubTransport(libp2p.services.pubsub),
    peers,
    logger,
    onOrphan: peer => { sync.requestSync(peer) },
    onConnected: (peer, height) => { sync.peerRelayed(peer, height) }
  })
  const rendezvous = new DhtRendezvous({ libp2p, logger, wantsPeers: () => peers.wantsPeers(), onPeer: info => { peers.discovered(info) } }, { namespace: protocolPrefix })
  return new P2PService({
    chain,
    libp2p,
    peerKey,
    bans,
    banFile: new BanFile({ bans, logger }, { path: join(options.datadir, BANS_FILE) }),
    bytes: new ConnectionBytes(libp2p),
    peers,
    transport,
    sync,
    gossip,
    rendezvous,
    logger
  }, { protocolPrefix })
}
