/**
 * Turns relayed connections into direct ones where the NATs allow. DCUtR
 * (@libp2p/dcutr) hole-punches TCP, which two NATs that do not reuse the
 * listen port as source port defeat (Linux's MASQUERADE among them); WebRTC
 * punches UDP with the STUN servers given, its offer and answer signalled
 * through the relay. The side that dialled the relayed connection offers
 * WebRTC once identify has shown the peer's /p2p-circuit/webrtc addresses.
 * Once a peer has a direct connection that answers a ping, its relayed ones
 * close: they count against the relay's limits and carry nothing a direct one
 * cannot. The ping matters: a WebRTC connection can open and carry nothing
 * (between a symmetric NAT and a port-restricted one, seen in the NAT zoo),
 * and closing the working relayed connection for it would cut the peer off;
 * a direct connection that does not answer is closed instead.
 */
import { serviceCapabilities, type ComponentLogger, type Connection, type IdentifyResult, type Libp2pEvents, type Logger, type Startable, type TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import { byteStream } from '@libp2p/utils'

export interface DirectUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** A WebRTC dial whose ICE finds no pair gives up after this long. */
const WEBRTC_DIAL_TIMEOUT_MS = 20_000

/** libp2p's ping protocol: 32 bytes echoed. */
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32
const PROBE_TIMEOUT_MS = 5_000
/** After a WebRTC attempt failed (no connection, or one that carried nothing), the pair waits this long before the next: its NATs will not change soon. */
const RETRY_AFTER_MS = 5 * 60_000

/** Whether a connection carries data both ways: a ping over it, on it alone (else why not). */
export async function answersPing (conn: Connection): Promise<true | string> {
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS)
  try {
    const stream = await conn.newStream(PING_PROTOCOL, { signal })
    const bytes = byteStream(stream)
    const data = crypto.getRandomValues(new Uint8Array(PING_BYTES))
    await bytes.write(data, { signal })
    const echo = (await bytes.read({ bytes: PING_BYTES, signal })).subarray()
    await stream.close({ signal }).catch(() => {})
    return echo.every((b, i) => b === data[i]) || 'a wrong echo'
  } catch (err) {
    // A stream that never opened rejects with its close event, not an Error.
    return err instanceof Event ? `the stream ended (${err.type})` : (err as Error).message
  }
}

const isWebRTC = (ma: Multiaddr): boolean => ma.getComponents().some(c => c.name === 'webrtc')

export class DirectUpgrade implements Startable {
  readonly #c: DirectUpgradeComponents
  readonly #log: Logger
  /** Peers a WebRTC dial is under way to. */
  readonly #dialing = new Set<string>()
  /** When a WebRTC attempt with a peer last failed (ms); identify runs again at every address change, and each would retry. */
  readonly #failed = new Map<string, number>()

  constructor (components: DirectUpgradeComponents) {
    this.#c = components
    this.#log = components.logger.forComponent('coints:direct-upgrade')
  }

  readonly [Symbol.toStringTag] = 'coints-direct-upgrade'
  readonly [serviceCapabilities] = ['coints:direct-upgrade']

  start (): void {
    this.#c.events.addEventListener('connection:open', this.#onOpen)
    this.#c.events.addEventListener('peer:identify', this.#onIdentify)
  }

  stop (): void {
    this.#c.events.removeEventListener('connection:open', this.#onOpen)
    this.#c.events.removeEventListener('peer:identify', this.#onIdentify)
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (conn.limits === undefined) {
      void this.#replaceRelayed(conn)
      return
    }
    // A relayed connection that opens after a direct one (the peer dialled a relay address meanwhile) closes too.
    const direct = this.#c.connectionManager.getConnections(conn.remotePeer).find(c => c.limits === undefined && c.status === 'open')
    if (direct !== undefined) void this.#replaceRelayed(direct)
  }

  async #replaceRelayed (direct: Connection): Promise<void> {
    const relayed = (): Connection[] => this.#c.connectionManager.getConnections(direct.remotePeer).filter(c => c.limits !== undefined)
    if (relayed().length === 0) return
    const answer = await answersPing(direct)
    if (answer !== true) {
      this.#log('direct connection to %p over %a carries nothing (%s): closing it, staying relayed', direct.remotePeer, direct.remoteAddr, answer)
      this.#failedWith(direct.remotePeer.toString())
      direct.abort(new Error('direct connection does not answer a ping'))
      return
    }
    for (const conn of relayed()) {
      this.#log('direct connection to %p: closing relayed %a', direct.remotePeer, conn.remoteAddr)
      void conn.close().catch(err => { conn.abort(err as Error) })
    }
  }

  #failedWith (peer: string): void {
    this.#failed.set(peer, Date.now())
    // Peers that come and go leave no trace beyond their retry wait.
    for (const [p, at] of this.#failed) if (Date.now() - at >= RETRY_AFTER_MS) this.#failed.delete(p)
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, connection, listenAddrs } = evt.detail
    const peer = peerId.toString()
    if (connection.limits === undefined || connection.direction !== 'outbound' || this.#dialing.has(peer)) return
    if (Date.now() - (this.#failed.get(peer) ?? -Infinity) < RETRY_AFTER_MS) return
    if (this.#c.connectionManager.getConnections(peerId).some(c => c.limits === undefined)) return
    const addrs = listenAddrs.filter(isWebRTC).map(a => a.getComponents().at(-1)?.name === 'p2p' ? a : a.encapsulate(`/p2p/${peer}`))
    if (addrs.length === 0) return
    this.#dialing.add(peer)
    this.#log('offering WebRTC to %p over %a', peerId, addrs[0])
    void this.#c.connectionManager.openConnection(addrs, { force: true, signal: AbortSignal.timeout(WEBRTC_DIAL_TIMEOUT_MS) })
      .then(conn => { this.#log('direct WebRTC connection to %p', conn.remotePeer) }, err => {
        this.#log('WebRTC to %p failed, staying relayed - %e', peerId, err)
        this.#failedWith(peer)
      })
      .finally(() => { this.#dialing.delete(peer) })
  }
}

export function directUpgrade (): (components: DirectUpgradeComponents) => DirectUpgrade {
  return components => new DirectUpgrade(components)
}
