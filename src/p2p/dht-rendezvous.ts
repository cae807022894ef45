/**
 * Discovery beyond the LAN through the Kad-DHT (coints' own: its protocol
 * carries the network's prefix, so it never joins IPFS's). Every node provides
 * one rendezvous key, the network's, and looks up its providers while it has
 * fewer peers than it wants: provider records carry each provider's addresses
 * as it announced them, so a private node is found through its /p2p-circuit
 * (and WebRTC) addresses on its relays. Records expire with their provider
 * (kad-dht's 48 h, renewed here every few minutes while the node runs).
 */
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PeerInfo } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Logger } from '../log.ts'
import type { Startable } from '../util/startable.ts'

export interface DhtRendezvousComponents {
  libp2p: Libp2p<{ dht: KadDHT }>
  logger: Logger
  /** Connected peers, and how many are wanted. */
  wantsPeers: () => boolean
  /** Each provider found (never ourselves). */
  onPeer: (info: PeerInfo) => void
}

export interface DhtRendezvousInit {
  /** The network's protocol prefix: /coints/<network>/<genesis id>. */
  namespace: string
  lookupIntervalMs?: number
  provideIntervalMs?: number
}

const LOOKUP_TIMEOUT_MS = 20_000

export async function rendezvousKey (namespace: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`${namespace}/peers`)))
}

export class DhtRendezvous implements Startable {
  readonly #c: DhtRendezvousComponents
  readonly #init: DhtRendezvousInit
  #key: CID | undefined
  #timer: NodeJS.Timeout | undefined
  #lastProvide = 0
  #provided = ''
  #busy = false
  readonly #abort = new AbortController()

  constructor (components: DhtRendezvousComponents, init: DhtRendezvousInit) {
    this.#c = components
    this.#init = init
  }

  async start (): Promise<void> {
    if (this.#key !== undefined) return
    this.#key = await rendezvousKey(this.#init.namespace)
    this.#timer = setInterval(() => { void this.#tick() }, this.#init.lookupIntervalMs ?? 5_000)
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#abort.abort()
  }

  async #tick (): Promise<void> {
    const key = this.#key
    const { libp2p, logger } = this.#c
    if (this.#busy || key === undefined || libp2p.getPeers().length === 0) return
    this.#busy = true
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)])
    try {
      // Provide again when our addresses changed (a relay reservation came or went) or the interval passed.
      const addresses = libp2p.getMultiaddrs().map(String).sort().join(' ')
      if (addresses !== this.#provided || Date.now() - this.#lastProvide > (this.#init.provideIntervalMs ?? 10 * 60_000)) {
        await libp2p.services.dht.provide(key, { signal })
        this.#provided = addresses
        this.#lastProvide = Date.now()
      }
      if (!this.#c.wantsPeers()) return
      for await (const provider of libp2p.contentRouting.findProviders(key, { signal })) {
        if (!provider.id.equals(libp2p.peerId) && provider.multiaddrs.length > 0) this.#c.onPeer({ id: provider.id, multiaddrs: provider.multiaddrs })
      }
    } catch (err) {
      logger.debug(`DHT rendezvous: ${(err as Error).message}`)
    } finally {
      this.#busy = false
    }
  }
}
