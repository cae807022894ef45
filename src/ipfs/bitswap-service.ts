import { withBitswap, type BitswapBlockBrokerInit } from '@helia/bitswap'
import type { Libp2p, PeerId, Startable } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLogger, type Logger } from '../log.ts'
import { BitswapGuard, type BitswapLimits, type BitswapPeerPolicy } from './bitswap-guard.ts'

/** Bitswap 1.2.0 and the ids before it, which a server answers alike. */
export const BITSWAP_PROTOCOLS = ['/ipfs/bitswap/1.2.0', '/ipfs/bitswap/1.1.0', '/ipfs/bitswap/1.0.0', '/ipfs/bitswap']

export const DEFAULT_BITSWAP_LIMITS: BitswapLimits = {
  // A block's transaction list may name a few thousand transactions, and a client walking the DAG wants them at once.
  maxWants: 8_192,
  // 8,192 wants take about 370 kB.
  maxMessageBytes: 1024 * 1024,
  maxBytesInFlight: 32 * 1024 * 1024,
  // As the sync protocols' replies.
  stallMs: 5_000
}

export interface BitswapComponents {
  /** The node's libp2p and the policy that penalises and hangs up on peers (P2PService: read at start). */
  network: { readonly libp2p: Libp2p, readonly peers: BitswapPeerPolicy }
  /** The chain's blockstore: only blocks not found invalid (ChainStore: read at start). */
  blocks: { readonly blockstore: Blockstore }
  logger?: Logger
}

export interface BitswapInit {
  limits?: Partial<BitswapLimits>
}

/**
 * Serves the chain's blocks over bitswap on the node's own libp2p, beside
 * gossipsub and sync on the same connections: @helia/bitswap, bounded per
 * peer by a BitswapGuard. The node never asks for blocks this way (it syncs
 * whole blocks, validated), so only the library's serving half is used.
 */
export class BitswapService implements Startable {
  readonly #c: BitswapComponents
  readonly #limits: BitswapLimits
  readonly #log: Logger
  #guard: BitswapGuard | undefined
  #broker: Startable | undefined
  #libp2p: Libp2p | undefined

  constructor (components: BitswapComponents, init: BitswapInit = {}) {
    this.#c = components
    this.#limits = { ...DEFAULT_BITSWAP_LIMITS, ...init.limits }
    this.#log = components.logger ?? createLogger('bitswap')
  }

  get guard (): BitswapGuard {
    if (this.#guard === undefined) throw new Error('bitswap is not started')
    return this.#guard
  }

  async start (): Promise<void> {
    if (this.#broker !== undefined) return
    const libp2p = this.#c.network.libp2p
    const guard = new BitswapGuard({ libp2p, policy: this.#c.network.peers, logger: this.#log }, this.#limits)
    this.#guard = guard
    this.#libp2p = libp2p
    libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    const options: BitswapBlockBrokerInit & { protocols: string[], maxWantListSize: number } = {
      // Read by the library as `protocols` and `maxWantListSize` (4.0.19 declares `protocol` and `maxWantlistSize`, which it never reads).
      protocols: BITSWAP_PROTOCOLS,
      maxWantListSize: this.#limits.maxWants,
      maxIncomingMessageSize: this.#limits.maxMessageBytes
    }
    // withBitswap is the library's one export: a Helia mixin. This host holds what its broker reads
    // (the components and the broker list); the node has no Helia of its own.
    let broker: Startable | undefined
    const mixins: Array<{ start?: (helia: unknown) => Promise<void> | void }> = []
    const host = {
      status: 'starting',
      libp2p: guard.libp2p(),
      blockstore: guard.blockstore(this.#c.blocks.blockstore),
      logger: libp2p.logger,
      getHasher: () => sha256,
      // Only the asking half looks for providers; a server has nobody to look for.
      routing: { async * findProviders () {} },
      hasBlockBroker: () => broker !== undefined,
      addBlockBroker: (b: Startable) => { broker = b },
      addMixin: (mixin: { start?: (helia: unknown) => Promise<void> | void }) => { mixins.push(mixin) }
    }
    withBitswap(host as unknown as Parameters<typeof withBitswap>[0], options)
    for (const mixin of mixins) await mixin.start?.(host)
    if (broker === undefined) throw new Error('@helia/bitswap added no block broker')
    this.#broker = broker
    this.#log.info(`bitswap serving the chain's blocks on ${BITSWAP_PROTOCOLS[0]}`)
  }

  async stop (): Promise<void> {
    this.#libp2p?.removeEventListener('peer:disconnect', this.#onDisconnect)
    await this.#broker?.stop()
    this.#broker = undefined
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#guard?.peerGone(evt.detail.toString())
  }
}
