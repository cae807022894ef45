import type { Connection, Libp2p } from '@libp2p/interface'
import type { Startable } from '../util/startable.ts'

export interface ByteCounts { in: number, out: number }

/** Bytes this node moved since it started, over relayed (limited) connections and direct ones, both ways. */
export interface TrafficTotals { relayed: number, direct: number }

/** The parts of a libp2p 3 multiaddr connection (an AbstractMessageStream) that move bytes. */
/** The standard RTCPeerConnection's statistics, as much of them as is read here. */
interface PeerConnectionStats { getStats: () => Promise<Map<string, { type?: string, bytesSent?: number, bytesReceived?: number }>> }

interface CountableStream {
  onData: (data: { byteLength: number }) => void
  sendData: (data: { byteLength: number }) => unknown
}

const isCountable = (x: unknown): x is CountableStream =>
  typeof x === 'object' && x !== null && typeof (x as CountableStream).onData === 'function' && typeof (x as CountableStream).sendData === 'function'

/**
 * Bytes read and written on each connection, for getpeerinfo. libp2p 3 counts
 * bytes only per protocol and transport (through a metrics implementation),
 * never per connection, so the counts come from the connection's transport
 * stream: what its transport hands up (onData) and writes (sendData), from the
 * moment the connection opened (the handshake before is not counted). A
 * WebRTC connection carries its data on data channels, not its transport
 * stream: its counts are its peer connection's transport statistics (the
 * standard getStats()), read by update().
 */
export class ConnectionBytes implements Startable {
  readonly #counts = new WeakMap<Connection, ByteCounts>()
  readonly #webrtc = new WeakMap<Connection, PeerConnectionStats>()
  readonly #libp2p: Libp2p
  /** Of connections that closed. */
  readonly #closed: TrafficTotals = { relayed: 0, direct: 0 }
  #started = false

  constructor (libp2p: Libp2p) {
    this.#libp2p = libp2p
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
    this.#libp2p.addEventListener('connection:close', this.#onClose)
    for (const conn of this.#libp2p.getConnections()) this.#track(conn)
  }

  async stop (): Promise<void> {
    this.#started = false
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
    this.#libp2p.removeEventListener('connection:close', this.#onClose)
  }

  /** Relayed against direct bytes, of connections closed and open (WebRTC's uncounted). */
  totals (): TrafficTotals {
    const totals = { ...this.#closed }
    for (const conn of this.#libp2p.getConnections()) this.#add(totals, conn)
    return totals
  }

  #add (totals: TrafficTotals, conn: Connection): void {
    const counts = this.#counts.get(conn)
    if (counts === undefined) return
    totals[conn.limits === undefined ? 'direct' : 'relayed'] += counts.in + counts.out
  }

  readonly #onClose = (evt: CustomEvent<Connection>): void => { this.#add(this.#closed, evt.detail) }

  of (conn: Connection): ByteCounts | undefined {
    return this.#counts.get(conn)
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => { this.#track(evt.detail) }

  /** Reads the WebRTC connections' counts (asynchronous, unlike the others'). */
  async update (): Promise<void> {
    await Promise.all(this.#libp2p.getConnections().map(async conn => {
      const pc = this.#webrtc.get(conn)
      const counts = this.#counts.get(conn)
      if (pc === undefined || counts === undefined) return
      const transport = [...(await pc.getStats().catch(() => new Map())).values()].find(r => r.type === 'transport')
      counts.in = transport?.bytesReceived ?? counts.in
      counts.out = transport?.bytesSent ?? counts.out
    }))
  }

  #track (conn: Connection): void {
    if (this.#counts.has(conn)) return
    const stream: unknown = (conn as unknown as { maConn?: unknown }).maConn
    const pc = (stream as { peerConnection?: Partial<PeerConnectionStats> } | undefined)?.peerConnection
    if (typeof pc?.getStats === 'function') {
      this.#webrtc.set(conn, pc as PeerConnectionStats)
      this.#counts.set(conn, { in: 0, out: 0 })
      return
    }
    if (!isCountable(stream)) return
    const counts: ByteCounts = { in: 0, out: 0 }
    const onData = stream.onData.bind(stream)
    const sendData = stream.sendData.bind(stream)
    stream.onData = data => { counts.in += data.byteLength; onData(data) }
    stream.sendData = data => { counts.out += data.byteLength; return sendData(data) }
    this.#counts.set(conn, counts)
  }
}
