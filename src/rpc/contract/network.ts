import type { PeerInfoView } from '../../p2p/p2p-service.ts'
import type { NatStatus } from '../../p2p/nat-service.ts'
import type { TrafficTotals } from '../../p2p/connection-bytes.ts'
import type { MethodDoc } from './types.ts'

export type { PeerInfoView }

/** Core's fields, then what the node knows of its reachability (NatStatus) and the bytes it moved relayed and direct. */
export interface NetworkInfo extends NatStatus {
  /** As Bitcoin Core numbers its versions: 0.2.0 is 20000. */
  version: number
  subversion: string
  peerId: string
  addresses: string[]
  connections: number
  connections_in: number
  connections_out: number
  networkactive: boolean
  traffic: TrafficTotals
}

/** A ban in force: Core's fields (seconds since the epoch), with peerId for a ban of a key. */
export type BanView = ({ peerId: string } | { address: string }) & { ban_created: number, banned_until: number, reason: string }

/** What each peer-to-peer method answers. */
export interface NetworkResults {
  getpeerinfo: PeerInfoView[]
  getnetworkinfo: NetworkInfo
  getconnectioncount: number
  addnode: null
  setban: null
  listbanned: BanView[]
  clearbanned: null
  disconnectnode: null
}

/** Peer-to-peer methods: peers, addresses, manual connections and bans. */
export const NETWORK_METHODS = {
  getpeerinfo: {
    description: 'Connected peers, one entry each: [{peerId, addr, direction, height, connections: [{addr, direction, transport (tcp, webrtc, circuit), limited, rttMs, bytesIn, bytesOut, startTime}]}].',
    params: []
  },
  getnetworkinfo: {
    description: 'This node\'s {version, subversion, peerId, addresses, connections, connections_in, connections_out, networkactive, reachability (public, private, unknown), listen, observed, announced, portMappings, relayReservations, relayService, traffic: {relayed, direct} bytes} (version as Bitcoin Core\'s number: 0.2.0 is 20000).',
    params: []
  },
  getconnectioncount: {
    description: 'Connections to peers (0 with networking off).',
    params: []
  },
  addnode: {
    description: 'Connects to a peer by multiaddr (with /p2p/<peerId>) and keeps redialing it.',
    params: [{ name: 'multiaddr', type: 'string' }]
  },
  setban: {
    description: 'Bans a peer id, an IP address or a subnet ("1.2.3.0/24", "2001:db8::/48"): "add" for `bantime` seconds (default 86400; with `absolute`, until that Unix time), or "remove" its ban.',
    params: [{ name: 'target', type: 'string', max: 200 }, { name: 'command', type: 'string' }, { name: 'bantime', type: 'integer', optional: true, min: 1 }, { name: 'absolute', type: 'boolean', optional: true }]
  },
  listbanned: {
    description: 'Bans in force: [{peerId or address, ban_created, banned_until, reason}], times in seconds since the epoch.',
    params: []
  },
  clearbanned: {
    description: 'Lifts every ban, of peers and of addresses.',
    params: []
  },
  disconnectnode: {
    description: 'Closes the connections to a peer.',
    params: [{ name: 'peerId', type: 'string' }]
  }
} as const satisfies Record<keyof NetworkResults, MethodDoc>
