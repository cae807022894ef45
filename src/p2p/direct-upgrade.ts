/**
 * Turns relayed connections into direct ones where the NATs allow. DCUtR
 * (@libp2p/dcutr) hole-punches TCP, which two NATs that do not reuse the
 * listen port as source port defeat (Linux's MASQUERADE among them); WebRTC
 * punches UDP with the STUN servers given, its offer and answer signalled
 * through the relay. The side that dialled the relayed connection offers
 * WebRTC once identify has shown the peer's /p2p-circuit/webrtc addresses.
 * Once a peer has a direct connection, its relayed ones close: they count
 * against the relay's limits and carry nothing a direct one cannot.
 */
import { serviceCapabilities, type ComponentLogger, type Connection, type IdentifyResult, type Libp2pEvents, type Logger, type Startable, type TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface DirectUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** A WebRTC dial whose ICE finds no pair gives up after this long. */
const WEBRTC_DIAL_TIMEOUT_MS = 20_000

const isWebRTC = (ma: Multiaddr): boolean => ma.getComponents().some(c => c.name === 'webrtc')

export class DirectUpgrade implements Startable {
  readonly #c: DirectUpgradeComponents
  readonly #log: Logger
  /** Peers a WebRTC dial is under way to. */
  readonly #dialing = new Set<string>()

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
    if (conn.limits === undefined) this.#closeRelayed(conn)
  }

  #closeRelayed (direct: Connection): void {
    for (const relayed of this.#c.connectionManager.getConnections(direct.remotePeer)) {
      if (relayed.limits === undefined) continue
      this.#log('direct connection to %p: closing relayed %a', direct.remotePeer, relayed.remoteAddr)
      void relayed.close().catch(err => { relayed.abort(err as Error) })
    }
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, connection, listenAddrs } = evt.detail
    const peer = peerId.toString()
    if (connection.limits === undefined || connection.direction !== 'outbound' || this.#dialing.has(peer)) return
    if (this.#c.connectionManager.getConnections(peerId).some(c => c.limits === undefined)) return
    const addrs = listenAddrs.filter(isWebRTC).map(a => a.getComponents().at(-1)?.name === 'p2p' ? a : a.encapsulate(`/p2p/${peer}`))
    if (addrs.length === 0) return
    this.#dialing.add(peer)
    this.#log('offering WebRTC to %p over %a', peerId, addrs[0])
    void this.#c.connectionManager.openConnection(addrs, { force: true, signal: AbortSignal.timeout(WEBRTC_DIAL_TIMEOUT_MS) })
      .then(conn => { this.#log('direct WebRTC connection to %p', conn.remotePeer) }, err => { this.#log('WebRTC to %p failed, staying relayed - %e', peerId, err) })
      .finally(() => { this.#dialing.delete(peer) })
  }
}

export function directUpgrade (): (components: DirectUpgradeComponents) => DirectUpgrade {
  return components => new DirectUpgrade(components)
}
