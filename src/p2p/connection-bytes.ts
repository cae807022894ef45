import type { Connection, Libp2p } from '@libp2p/interface'

export interface ByteCounts { in: number, out: number }

/** The parts of a libp2p 3 multiaddr connection (an AbstractMessageStream) that move bytes. */
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
 * stream: it has no count.
 */
export class ConnectionBytes {
  readonly #counts = new WeakMap<Connection, ByteCounts>()
  readonly #libp2p: Libp2p

  constructor (libp2p: Libp2p) {
    this.#libp2p = libp2p
  }

  start (): void {
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
    for (const conn of this.#libp2p.getConnections()) this.#track(conn)
  }

  stop (): void {
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
  }

  of (conn: Connection): ByteCounts | undefined {
    return this.#counts.get(conn)
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => { this.#track(evt.detail) }

  #track (conn: Connection): void {
    if (this.#counts.has(conn) || conn.remoteAddr.getComponents().some(c => c.name === 'webrtc')) return
    const stream: unknown = (conn as unknown as { maConn?: unknown }).maConn
    if (!isCountable(stream)) return
    const counts: ByteCounts = { in: 0, out: 0 }
    const onData = stream.onData.bind(stream)
    const sendData = stream.sendData.bind(stream)
    stream.onData = data => { counts.in += data.byteLength; onData(data) }
    stream.sendData = data => { counts.out += data.byteLength; return sendData(data) }
    this.#counts.set(conn, counts)
  }
}
