/**
 * What a node knows of its own reachability, and what it does about it: a
 * publicly reachable node becomes a circuit relay v2 server (unless told not
 * to), a private one reserves slots on a few relays and so gets /p2p-circuit
 * addresses that peers can dial (and signal WebRTC through).
 *
 * js-libp2p has no reachability verdict of its own: AutoNAT (v2) confirms an
 * address once enough peers dialled it back (one for a listen or UPnP-mapped
 * address, four from distinct /8s for an address only observed by peers), and
 * never calls a node private in a network smaller than eight /8s. So the
 * verdict here is: public once an address that is not private and not a relay
 * address is verified (or announced by the user); private once AutoNAT servers
 * have had the time to dial us back and none could; unknown before.
 */
import { serviceCapabilities, serviceDependencies, start, stop, type ComponentLogger, type Libp2pEvents, type Logger, type PeerId, type Startable, type TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'
import { circuitRelayServer, type CircuitRelayServerComponents, type CircuitRelayServerInit, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isLoopback } from './addresses.ts'

export const REACHABILITIES = ['public', 'private', 'unknown'] as const
export type Reachability = typeof REACHABILITIES[number]

export const RELAY_CLIENT_MODES = ['auto', 'on', 'off'] as const
export type RelayClientMode = typeof RELAY_CLIENT_MODES[number]

/** AutoNAT v2's dial-request protocol: a peer speaking it can dial us back. */
const AUTONAT_PROTOCOL = '/libp2p/autonat/2/dial-request'
/** Relays a private node keeps reservations on: one more than needed, so losing one leaves it reachable. */
const RESERVATIONS = 2
/**
 * The verdict is taken again at each change of our addresses (self:peer:update:
 * AutoNAT or UPnP verifying one, a listener opening or closing, --announce) and
 * when an AutoNAT server's time to dial us back ends; this poll only catches an
 * address whose verification lapsed (its TTL, an hour by default, ends with no event).
 */
const LAPSE_CHECK_MS = 30_000

export interface NatServiceInit {
  relayService: boolean
  relayClient: RelayClientMode
  server: CircuitRelayServerInit
  /** AutoNAT servers that must have had their chance before a node calls itself private. */
  verdictServers?: number
  /** How long each of them gets (AutoNAT's own dial-back timeout, and some). */
  verdictAfterMs?: number
}

export type NatServiceComponents = CircuitRelayServerComponents & {
  addressManager: AddressManager
  transportManager: TransportManager
  connectionManager: ConnectionManager
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface PortMapping { external: string, verified: boolean }

export interface NatStatus {
  reachability: Reachability
  listen: string[]
  observed: string[]
  announced: string[]
  portMappings: PortMapping[]
  /** Relays this node holds a reservation on (their addresses with /p2p-circuit). */
  relayReservations: string[]
  /** Whether this node relays for others, and for how many reservations. */
  relayService: { enabled: boolean, running: boolean, reservations: number }
}

const isRelayed = (ma: Multiaddr): boolean => ma.getComponents().some(c => c.name === 'p2p-circuit')

/** An IP address others can reach us on without a relay (libp2p's private list includes the TEST-NET and shared ranges). */
export function isPublicAddress (ma: Multiaddr): boolean {
  const first = ma.getComponents()[0]?.name
  return (first === 'ip4' || first === 'ip6') && !isPrivate(ma) && !isRelayed(ma)
}

export class NatService implements Startable {
  readonly #c: NatServiceComponents
  readonly #init: NatServiceInit
  readonly #log: Logger
  readonly #relay: CircuitRelayService & Startable
  #relayRunning = false
  #reserving = false
  #topology: string | undefined
  #timer: NodeJS.Timeout | undefined
  /** One a server met: its time to dial us back ends (then it counts towards 'private'). */
  readonly #serverTimers = new Set<NodeJS.Timeout>()
  readonly #onAddresses = (): void => { void this.#update() }
  /** When each AutoNAT server we met was first connected (ms). */
  readonly #servers = new Map<string, number>()
  #reachability: Reachability = 'unknown'

  constructor (components: NatServiceComponents, init: NatServiceInit) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent('coints:nat')
    this.#relay = circuitRelayServer(init.server)(components) as CircuitRelayService & Startable
  }

  readonly [Symbol.toStringTag] = 'coints-nat'
  readonly [serviceCapabilities] = ['coints:nat']
  get [serviceDependencies] (): string[] { return ['@libp2p/identify', '@libp2p/autonat'] }

  async start (): Promise<void> {
    this.#topology = await this.#c.registrar.register(AUTONAT_PROTOCOL, {
      notifyOnLimitedConnection: false,
      onConnect: (peer: PeerId) => { this.#serverMet(peer) }
    })
    if (this.#init.relayClient === 'on') await this.#reserve()
    this.#c.events.addEventListener('self:peer:update', this.#onAddresses)
    this.#timer = setInterval(() => { void this.#update() }, LAPSE_CHECK_MS)
    void this.#update()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    for (const timer of this.#serverTimers) clearTimeout(timer)
    this.#serverTimers.clear()
    this.#c.events.removeEventListener('self:peer:update', this.#onAddresses)
    if (this.#topology !== undefined) this.#c.registrar.unregister(this.#topology)
    if (this.#relayRunning) await stop(this.#relay)
    this.#relayRunning = false
  }

  get reachability (): Reachability { return this.#reachability }

  #serverMet (peer: PeerId): void {
    if (this.#servers.has(peer.toString())) return
    this.#servers.set(peer.toString(), Date.now())
    const timer = setTimeout(() => {
      this.#serverTimers.delete(timer)
      void this.#update()
      // A little after: libuv's timer clock may run behind Date.now, which the verdict reads.
    }, this.#verdictAfterMs + 50)
    this.#serverTimers.add(timer)
  }

  get #verdictAfterMs (): number { return this.#init.verdictAfterMs ?? 15_000 }

  #verdict (): Reachability {
    // Verified: dialled back by AutoNAT, confirmed by UPnP and AutoNAT, or announced by the user (--announce).
    if (this.#c.addressManager.getAddressesWithMetadata().some(a => a.verified && isPublicAddress(a.multiaddr))) return 'public'
    const ready = [...this.#servers.values()].filter(at => Date.now() - at >= this.#verdictAfterMs).length
    return ready >= (this.#init.verdictServers ?? 2) ? 'private' : 'unknown'
  }

  async #update (): Promise<void> {
    const next = this.#verdict()
    if (next === this.#reachability) return
    this.#log('reachability %s -> %s', this.#reachability, next)
    this.#reachability = next
    try {
      // Relaying needs to be reachable: a private relay's addresses lead nowhere.
      if (next === 'public' && this.#init.relayService && !this.#relayRunning) {
        await start(this.#relay)
        this.#relayRunning = true
      }
      if (next === 'private' && this.#init.relayClient === 'auto') await this.#reserve()
    } catch (err) {
      this.#log.error('acting on reachability %s failed - %e', next, err)
    }
  }

  /** Listening on /p2p-circuit makes the relay transport find a relay among our peers and reserve on it, one per address. */
  async #reserve (): Promise<void> {
    if (this.#reserving) return
    this.#reserving = true
    await this.#c.transportManager.listen(Array.from({ length: RESERVATIONS }, () => multiaddr('/p2p-circuit')))
  }

  status (): NatStatus {
    const addresses = this.#c.addressManager.getAddressesWithMetadata()
    const text = (list: Multiaddr[]): string[] => list.map(String)
    return {
      reachability: this.#reachability,
      listen: text(this.#c.transportManager.getAddrs().filter(a => !isRelayed(a))),
      observed: text(this.#c.addressManager.getObservedAddrs()),
      announced: text(this.#c.addressManager.getAddresses()),
      portMappings: addresses.filter(a => a.type === 'ip-mapping').map(a => ({ external: a.multiaddr.toString(), verified: a.verified })),
      // A relay's loopback address is in its reservation too: no peer could use it.
      relayReservations: text(this.#c.transportManager.getAddrs().filter(a => isRelayed(a) && !a.getComponents().some(c => c.name === 'webrtc') && !isLoopback(a))),
      relayService: { enabled: this.#init.relayService, running: this.#relayRunning, reservations: this.#relay.reservations.size }
    }
  }
}

export function natService (init: NatServiceInit): (components: NatServiceComponents) => NatService {
  return components => new NatService(components, init)
}
