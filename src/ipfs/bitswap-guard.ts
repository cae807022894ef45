import { AsyncLocalStorage } from 'node:async_hooks'
import type { AbortOptions, Connection, Libp2p, PeerId, Stream, StreamHandler, StreamHandlerOptions, StreamMessageEvent } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { Logger } from '../log.ts'
import { watchStall } from '../util/stall-watch.ts'
import { MessageSplitter, readWantlist, type WantlistChange } from './bitswap-wire.ts'
import { BitswapError } from './errors.ts'

/** How the guard deals with a peer that misbehaves: counted against it (as PeerPolicy), then hung up on. */
export interface BitswapPeerPolicy {
  penalise: (peer: string, reason: string, weight?: number) => void
  hangUp: (peer: string) => Promise<void>
}

export interface BitswapLimits {
  /** Longest message a peer may send (a wantlist of `maxWants` fits many times over). */
  maxMessageBytes: number
  /** Most wants a peer may keep outstanding: the library's wantlist per peer holds this many, more is a flood. */
  maxWants: number
  /** Most bytes of blocks read for a peer and not yet taken by it. */
  maxBytesInFlight: number
  /** A reply the peer takes none of for this long is cut, and the peer dropped. */
  stallMs: number
}

interface PeerState {
  wants: Set<string>
  /** Bytes read for the peer since its last reply was sent. */
  inFlight: number
}

/** The part of libp2p @helia/bitswap uses, through which the guard watches every bitswap stream. */
export type BitswapLibp2p = Pick<Libp2p, 'handle' | 'unhandle' | 'register' | 'unregister' | 'getConnections' | 'dialProtocol' | 'dial' | 'isDialable' | 'peerId'>

/**
 * Bounds what one bitswap peer costs, around @helia/bitswap, which keeps a
 * wantlist per peer truncated at a size but never blames the peer, reads any
 * number of wanted blocks into one reply, and lets a peer that does not read
 * hold that reply until its send timeout. The guard sees every bitswap stream
 * through the libp2p it hands the library: it reads each inbound message's
 * wants as they arrive (a peer past `maxWants` outstanding, or sending a
 * message past `maxMessageBytes`, is dropped), charges each block the
 * library reads to the peer it reads for (a peer past `maxBytesInFlight` is
 * dropped), and cuts a reply the peer takes none of for `stallMs`. Dropped: counted
 * against the peer by its code's verdict (BITSWAP_VERDICTS), then hung up on.
 *
 * The peer a block is read for is known from the async context: the library
 * reads blocks in its per-peer queue, started from that peer's inbound stream,
 * which the guard's handler runs in the peer's context.
 */
export class BitswapGuard {
  readonly #libp2p: BitswapLibp2p
  readonly #policy: BitswapPeerPolicy
  readonly #log: Logger
  readonly #limits: BitswapLimits
  readonly #peers = new Map<string, PeerState>()
  readonly #reading = new AsyncLocalStorage<string>()

  constructor (components: { libp2p: BitswapLibp2p, policy: BitswapPeerPolicy, logger: Logger }, limits: BitswapLimits) {
    this.#libp2p = components.libp2p
    this.#policy = components.policy
    this.#log = components.logger
    this.#limits = limits
  }

  /** What a peer has outstanding, for tests and RPC: wants and bytes in flight. */
  peerState (peer: string): { wants: number, inFlight: number } | undefined {
    const state = this.#peers.get(peer)
    return state === undefined ? undefined : { wants: state.wants.size, inFlight: state.inFlight }
  }

  /** The libp2p to hand @helia/bitswap. */
  libp2p (): BitswapLibp2p {
    const libp2p = this.#libp2p
    return {
      peerId: libp2p.peerId,
      handle: async (protocols: string | string[], handler: StreamHandler, options?: StreamHandlerOptions) => {
        await libp2p.handle(protocols, (stream, connection) => { this.#inbound(stream, connection, handler) }, options)
      },
      unhandle: async (protocols: string | string[], options?: AbortOptions) => { await libp2p.unhandle(protocols, options) },
      register: async (...args: Parameters<Libp2p['register']>) => await libp2p.register(...args),
      unregister: (id: string) => { libp2p.unregister(id) },
      getConnections: (peer?: PeerId) => libp2p.getConnections(peer),
      dial: async (...args: Parameters<Libp2p['dial']>) => await libp2p.dial(...args),
      isDialable: async (...args: Parameters<Libp2p['isDialable']>) => await libp2p.isDialable(...args),
      dialProtocol: async (...args: Parameters<Libp2p['dialProtocol']>) => {
        const stream = await libp2p.dialProtocol(...args)
        const [target] = args
        if (typeof target === 'object' && 'toMultihash' in target) this.#outbound(stream, target.toString())
        return stream
      }
    }
  }

  /** The blockstore to hand @helia/bitswap: `store`, with each block read charged to the peer it is read for. */
  blockstore (store: Blockstore): Blockstore {
    const charge = (bytes: Uint8Array): void => {
      const peer = this.#reading.getStore()
      const state = peer === undefined ? undefined : this.#peers.get(peer)
      if (peer === undefined || state === undefined) return
      state.inFlight += bytes.length
      if (state.inFlight > this.#limits.maxBytesInFlight) {
        const err = new BitswapError('BYTES_IN_FLIGHT', `wanted more than ${this.#limits.maxBytesInFlight} bytes of blocks at once`)
        this.#drop(peer, err)
        throw err
      }
    }
    return {
      has: async (cid: CID, options?: AbortOptions) => await store.has(cid, options),
      get: async function * (cid: CID, options?: AbortOptions) {
        for await (const bytes of store.get(cid, options)) {
          charge(bytes)
          yield bytes
        }
      },
      getMany: (cids: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions) => store.getMany(cids, options),
      getAll: (options?: AbortOptions): AsyncGenerator<Pair> | Generator<Pair> => store.getAll(options),
      put: async (cid: CID, bytes: InputPair['bytes'], options?: AbortOptions) => await store.put(cid, bytes, options),
      putMany: (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions) => store.putMany(source, options),
      delete: async (cid: CID, options?: AbortOptions) => { await store.delete(cid, options) },
      deleteMany: (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions) => store.deleteMany(source, options)
    }
  }

  /** Forgets a peer that left. */
  peerGone (peer: string): void {
    this.#peers.delete(peer)
  }

  #state (peer: string): PeerState {
    let state = this.#peers.get(peer)
    if (state === undefined) {
      state = { wants: new Set(), inFlight: 0 }
      this.#peers.set(peer, state)
    }
    return state
  }

  #inbound (stream: Stream, connection: Connection, handler: StreamHandler): void {
    const peer = connection.remotePeer.toString()
    const state = this.#state(peer)
    const splitter = new MessageSplitter(this.#limits.maxMessageBytes)
    // Added before the library's own listener, so each message is judged before the library keeps its wants.
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (!this.#peers.has(peer)) return
      try {
        for (const message of splitter.push(evt.data)) this.#wantsChanged(state, readWantlist(message))
      } catch (err) {
        if (!(err instanceof BitswapError)) throw err
        this.#drop(peer, err)
        stream.abort(err)
      }
    })
    void this.#reading.run(peer, async () => { await handler(stream, connection) })
  }

  #wantsChanged (state: PeerState, change: WantlistChange): void {
    if (change.full) state.wants.clear()
    for (const cid of change.cancels) state.wants.delete(cid)
    for (const cid of change.wants) state.wants.add(cid)
    if (state.wants.size > this.#limits.maxWants) throw new BitswapError('WANT_FLOOD', `more than ${this.#limits.maxWants} wants outstanding`)
  }

  /**
   * Watches a reply to the peer: the library gives replies no deadline (its
   * send timeout never reaches them), so one the peer takes none of for
   * `stallMs` is cut here, as the sync protocols cut theirs.
   */
  #outbound (stream: Stream, peer: string): void {
    const stop = watchStall(stream, this.#limits.stallMs, left => {
      const err = new BitswapError('SLOW_READER', `took none of a reply for ${this.#limits.stallMs} ms (${left} bytes left)`)
      stream.abort(err)
      this.#drop(peer, err)
    })
    stream.addEventListener('close', () => {
      stop()
      const state = this.#peers.get(peer)
      if (state !== undefined) state.inFlight = 0
    })
  }

  #drop (peer: string, err: BitswapError): void {
    if (!this.#peers.delete(peer)) return
    this.#log.info(`bitswap: dropping ${peer}: ${err.message}`)
    this.#policy.penalise(peer, `bitswap ${err.message}`, err.verdict.weight)
    void this.#policy.hangUp(peer)
  }
}
