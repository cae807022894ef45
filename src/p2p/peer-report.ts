import type { Connection, Libp2p } from '@libp2p/interface'
import { transportOf, type TransportName } from './addresses.ts'
import type { ConnectionBytes } from './connection-bytes.ts'


export interface ConnectionView {
  addr: string
  direction: string
  transport: TransportName
  /** Relayed under a relay's limits of time and bytes. */
  limited: boolean
  rttMs: number | null
  /** Bytes since the connection opened (null where they cannot be counted). */
  bytesIn: number | null
  bytesOut: number | null
  /** When it opened, ms since the epoch. */
  startTime: number
}

export interface PeerInfoView {
  peerId: string
  /** The preferred connection's address and direction (a direct one before a relayed one). */
  addr: string
  direction: string
  height: number | null
  connections: ConnectionView[]
}

function connectionView (conn: Connection, bytes: ConnectionBytes): ConnectionView {
  const counts = bytes.of(conn)
  return {
    addr: conn.remoteAddr.toString(),
    direction: conn.direction,
    transport: transportOf(conn.remoteAddr),
    limited: conn.limits !== undefined,
    rttMs: conn.rtt === undefined ? null : Math.round(conn.rtt),
    bytesIn: counts?.in ?? null,
    bytesOut: counts?.out ?? null,
    startTime: conn.timeline.open
  }
}

/** The connection a peer is reached by, whose address and direction its view gives (a direct one before a relayed one). */
export function preferredConnection (peer: PeerInfoView): ConnectionView {
  return peer.connections.find(c => c.addr === peer.addr) ?? peer.connections[0]
}

/** getpeerinfo: one entry per peer, whatever the number of connections to it. */
export function peerInfoOf (libp2p: Libp2p, bytes: ConnectionBytes, heightOf: (peer: string) => number | null): PeerInfoView[] {
  const byPeer = new Map<string, Connection[]>()
  for (const conn of libp2p.getConnections()) {
    if (conn.status !== 'open') continue
    const peer = conn.remotePeer.toString()
    byPeer.set(peer, [...(byPeer.get(peer) ?? []), conn])
  }
  return [...byPeer].map(([peerId, conns]) => {
    const preferred = conns.find(c => c.limits === undefined) ?? conns[0]
    return {
      peerId,
      addr: preferred.remoteAddr.toString(),
      direction: preferred.direction,
      height: heightOf(peerId),
      connections: conns.map(c => connectionView(c, bytes))
    }
  })
}
