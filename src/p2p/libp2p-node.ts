import { createLibp2p } from 'libp2p'
import { tcp, type TCPOptions } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { createPeerScoreParams } from '@libp2p/gossipsub/score'
import { mdns } from '@libp2p/mdns'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { dcutr } from '@libp2p/dcutr'
import { kadDHT, type KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Registry } from 'prom-client'
import { MAX_BLOCK_WIRE_BYTES } from '../core/block.ts'
import { addressOf } from './addresses.ts'
import type { BanList } from './ban-list.ts'
import { directUpgrade } from './direct-upgrade.ts'
import { clearDebouncesAfterStop, clearingHeartbeatOnStop } from './libp2p-stop-timers.ts'
import { natService, type NatService, type RelayClientMode } from './nat-service.ts'

export type CointsLibp2p = Libp2p<{ pubsub: GossipSub, identify: unknown, ping: unknown, dht: KadDHT, nat: NatService }>

/** How a node reaches peers beyond its LAN (see docs/architecture.md, "NAT traversal"). */
export interface NatInit {
  /** Addresses announced instead of the listen addresses (--announce): a node behind a forwarded port. */
  announce: string[]
  /** STUN servers for WebRTC's ICE (--stun), none by default. */
  stun: string[]
  /** Map the listen port on the router by UPnP IGD (--no-upnp turns it off). */
  upnp: boolean
  /** Be a circuit relay v2 server once publicly reachable (--no-relay-service turns it off). */
  relayService: boolean
  /** Reserve on relays: 'auto' once private, 'on' always, 'off' never (--relay-client, --no-relay-client). */
  relayClient: RelayClientMode
  /** Prefix of the Kad-DHT's protocol: coints' own DHT, never IPFS's. */
  dhtProtocol: string
}

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
  nat: NatInit
  /** Start it once created (default): false creates it stopped, for its owner's start (a node's, src/node/build-network.ts). */
  start?: boolean
}

/** A node that stays where it is: no UPnP, no relaying either way (tools and tests that drive a bare libp2p node). */
export const NO_NAT_TRAVERSAL: Omit<NatInit, 'dhtProtocol'> = { announce: [], stun: [], upnp: false, relayService: false, relayClient: 'off' }

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
 * Limits of the relay server, per reservation and per relayed connection: a
 * relayed connection carries gossip and sync only until the pair upgrades to
 * a direct one (seconds, with WebRTC), so these keep a public node's relaying
 * to a small share of its bandwidth whoever asks.
 */
export const RELAY_LIMITS = {
  maxReservations: 64,
  /** Relayed connections open at once (each holds a STOP stream to its target). */
  maxRelayedConnections: 128,
  durationMs: 5 * 60_000,
  bytes: 8n * 1024n * 1024n,
  reservationTtlMs: 60 * 60_000
} as const

/**
 * js-libp2p 3 with TCP, WebRTC (private to private, signalled through a relay)
 * and circuit relay v2 transports, Noise, yamux, identify, ping, AutoNAT v2,
 * UPnP, DCUtR, a Kad-DHT of coints' own, @libp2p/gossipsub (the maintained
 * successor of @chainsafe/libp2p-gossipsub, whose 14.x speaks libp2p 2 only),
 * mDNS and a bootstrap list.
 */
export async function createLibp2pNode (init: Libp2pInit): Promise<CointsLibp2p> {
  const { bans, nat } = init
  // Loaded only when used: the WebRTC transport (its native part) adds 15 MB to a node's memory, UPnP 6 MB.
  // Without a STUN server WebRTC connects only hosts on one network, which reach each other over TCP anyway.
  const webrtc = nat.stun.length > 0 ? (await import('@libp2p/webrtc')).webRTC({ rtcConfiguration: { iceServers: nat.stun.map(urls => ({ urls })) } }) : undefined
  const upnp = nat.upnp ? (await import('@libp2p/upnp-nat')).uPnPNAT({ portMappingDescription: 'coints', gatewaySearchInterval: 60_000, autoConfirmAddress: true }) : undefined
  const peerBanned = (peer: PeerId): boolean => bans.isBanned(peer.toString())
  const addressBanned = (ma: Multiaddr): boolean => {
    const address = addressOf(ma)
    return address !== undefined && bans.isAddressBanned(address)
  }
  const node = await createLibp2p({
    start: init.start,
    privateKey: init.privateKey,
    // '/webrtc' listens for WebRTC offers arriving through our relays; reservations are made by the nat service.
    addresses: { listen: [...init.listen, ...(webrtc === undefined ? [] : ['/webrtc'])], announce: nat.announce },
    transports: [
      tcp(init.tcp),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      ...(webrtc === undefined ? [] : [webrtc])
    ],
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
      // Tells peers at once when our addresses or protocols change (a relay reservation, DHT server mode, the relay service).
      identifyPush: identifyPush(),
      ping: ping(),
      autoNAT: autoNATv2({ timeout: 10_000, startupDelay: 1_000 }),
      dcutr: dcutr(),
      // A mapping the router made (to a public address: upnp-nat refuses a double NAT) is trusted as verified: AutoNAT v2
      // asks only servers newly connected, which a host that mapped its port after its first peers may not meet for long.
      ...(upnp === undefined ? {} : { upnp }),
      // Server mode once an address is verified public (kad-dht's default), client before: an unreachable server only stalls queries.
      dht: kadDHT({ protocol: `${nat.dhtProtocol}/kad/1.0.0`, logPrefix: 'libp2p:coints-dht', metricsPrefix: 'coints_dht' }),
      nat: natService({
        relayService: nat.relayService,
        relayClient: nat.relayClient,
        server: {
          reservations: {
            maxReservations: RELAY_LIMITS.maxReservations,
            reservationTtl: RELAY_LIMITS.reservationTtlMs,
            defaultDurationLimit: RELAY_LIMITS.durationMs,
            defaultDataLimit: RELAY_LIMITS.bytes
          },
          maxOutboundStopStreams: RELAY_LIMITS.maxRelayedConnections
        }
      }),
      directUpgrade: directUpgrade(),
      pubsub: components => clearingHeartbeatOnStop(gossipsub({
        allowPublishToZeroTopicPeers: true,
        // A private peer may be reachable only through a relay until the pair goes direct.
        runOnLimitedConnection: true,
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
      })(components))
    }
  }) as CointsLibp2p
  // What the libraries' own stops leave running would hold the process up after ours (libp2p-stop-timers.ts).
  const stop = node.stop.bind(node)
  node.stop = async () => {
    await stop()
    clearDebouncesAfterStop(node)
  }
  return node
}
