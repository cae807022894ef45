import { createLibp2p } from 'libp2p'
import { tcp, type TCPOptions } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { createPeerScoreParams } from '@libp2p/gossipsub/score'
import { mdns } from '@libp2p/mdns'
import { bootstrap } from '@libp2p/bootstrap'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Registry } from 'prom-client'
import { MAX_BLOCK_WIRE_BYTES } from '../core/block.ts'
import { addressOf } from './addresses.ts'
import type { BanList } from './ban-list.ts'

export type CointsLibp2p = Libp2p<{ pubsub: GossipSub, identify: unknown, ping: unknown }>

export interface Libp2pInit {
  privateKey: PrivateKey
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  maxPeers: number
  bans: BanList
  /** The gossip topics: messages and subscriptions on others are dropped unread (a peer could otherwise have us track topics without end). */
  topics: string[]
  /** Gossip message ids from content: a message's CID. */
  messageId: (topic: string, data: Uint8Array) => Uint8Array
  /** Options of the TCP transport (tests dial from a second loopback address with `dialOpts`). */
  tcp?: TCPOptions
  /** libp2p's own metrics into this registry; none when undefined. */
  metrics?: Registry
  /** Where the file-system usage metric looks (the datadir's disk). */
  datadir?: string
}

/** Gossipsub's default score thresholds, spelled out because the gossip score below is scaled to the graylist one. */
export const SCORE_THRESHOLDS = { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 }

/**
 * A peer's gossipsub score is our ban list's verdict, so the two never
 * disagree: offences lower it in proportion (gossipsub then stops gossiping
 * to the peer, and prunes it from meshes), and it reaches the graylist
 * threshold only when the ban does (and we hang up). Gossipsub's own
 * invalid-message penalty (P4) is off: it graylisted a peer after one or two
 * rejected messages, after which our validators never saw the rest and the
 * peer stayed connected, muted, never banned.
 */
export function gossipScore (bans: BanList, peer: string): number {
  return SCORE_THRESHOLDS.graylistThreshold * (bans.isBanned(peer) ? 2 : bans.offenceLevel(peer))
}

/**
 * js-libp2p 3 with TCP, Noise, yamux, identify, ping, @libp2p/gossipsub (the
 * maintained successor of @chainsafe/libp2p-gossipsub, whose 14.x speaks
 * libp2p 2 only), mDNS and a bootstrap list.
 */
export async function createLibp2pNode (init: Libp2pInit): Promise<CointsLibp2p> {
  const { bans } = init
  const peerBanned = (peer: PeerId): boolean => bans.isBanned(peer.toString())
  const addressBanned = (ma: Multiaddr): boolean => {
    const address = addressOf(ma)
    return address !== undefined && bans.isAddressBanned(address)
  }
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp(init.tcp)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [
      ...(init.mdns ? [mdns({ interval: 5_000 })] : []),
      ...(init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap })] : [])
    ],
    connectionManager: { maxConnections: init.maxPeers },
    // The process's own metrics are the node's (collected once, with or without networking).
    ...(init.metrics === undefined ? {} : { metrics: prometheusMetrics({ registry: init.metrics, collectDefaultMetrics: false, statfsLocation: init.datadir }) }),
    // A banned address is refused before the handshake; a banned key once it is known.
    connectionGater: {
      denyDialPeer: peerBanned,
      denyDialMultiaddr: ma => addressBanned(ma) || bans.isBanned(ma.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''),
      denyInboundConnection: maConn => addressBanned(maConn.remoteAddr),
      denyInboundEncryptedConnection: (peer, maConn) => peerBanned(peer) || addressBanned(maConn.remoteAddr),
      denyOutboundEncryptedConnection: peerBanned
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        allowedTopics: init.topics,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        // Content-addressed ids: the same block from two publishers is one message.
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: message => init.messageId(message.topic, message.data),
        maxInboundDataLength: MAX_BLOCK_WIRE_BYTES + 64 * 1024,
        // No topic scores (P1–P4): the app-specific score (P5) is the ban list's; P6 off for loopback and LAN nodes sharing an IP.
        scoreParams: createPeerScoreParams({ IPColocationFactorWeight: 0, appSpecificWeight: 1, appSpecificScore: peer => gossipScore(bans, peer) }),
        scoreThresholds: SCORE_THRESHOLDS
      })
    }
  }) as CointsLibp2p
}
