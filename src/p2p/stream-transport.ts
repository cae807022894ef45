import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../log.ts'
import { SyncError } from './sync-messages.ts'
import type { HandleOptions, RequestHandler, RequestOptions, RequestTransport } from './transport.ts'

/** Streams of one protocol a peer may have open at once, each way. */
const MAX_STREAMS_PER_PROTOCOL = 8
const HANDLER_TIMEOUT_MS = 30_000

/**
 * Turns for one protocol's replies, per peer: a reply stays in memory until its
 * peer reads it, so a peer that asks on every stream it may open and never
 * reads would otherwise pin that many replies. Further requests wait their turn.
 */
class PeerTurns {
  readonly #max: number
  readonly #active = new Map<string, number>()
  readonly #waiting = new Map<string, Array<() => void>>()

  constructor (max: number) {
    this.#max = max
  }

  async take (peer: string, signal: AbortSignal): Promise<void> {
    const active = this.#active.get(peer) ?? 0
    if (active < this.#max) {
      this.#active.set(peer, active + 1)
      return
    }
    let queue = this.#waiting.get(peer)
    if (queue === undefined) this.#waiting.set(peer, queue = [])
    const waiting = queue
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = waiting.indexOf(go)
        if (at >= 0) waiting.splice(at, 1)
        if (waiting.length === 0) this.#waiting.delete(peer)
        reject(signal.reason)
      }
      const go = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      waiting.push(go)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  give (peer: string): void {
    const queue = this.#waiting.get(peer)
    const next = queue?.shift()
    if (queue?.length === 0) this.#waiting.delete(peer)
    // Handed on, the turn stays taken.
    if (next !== undefined) {
      next()
      return
    }
    const active = (this.#active.get(peer) ?? 1) - 1
    if (active === 0) this.#active.delete(peer)
    else this.#active.set(peer, active)
  }
}

/**
 * Request/response on libp2p streams: one length-prefixed request, one
 * length-prefixed reply, then the stream closes. Sizes are bounded on both
 * sides and every exchange has a deadline; a bad exchange aborts only its stream.
 */
export class StreamTransport implements RequestTransport {
  readonly #libp2p: Libp2p
  readonly #log: Logger

  constructor (components: { libp2p: Libp2p, logger: Logger }) {
    this.#libp2p = components.libp2p
    this.#log = components.logger
  }

  async request (peer: string, protocol: string, body: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const signal = AbortSignal.timeout(options.timeoutMs)
    let stream: Stream | undefined
    try {
      stream = await this.#libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal })
      const lp = lpStream(stream, { maxDataLength: options.maxResponseBytes })
      await lp.write(body, { signal })
      const reply = await lp.read({ signal })
      await stream.close({ signal }).catch(() => {})
      return reply.subarray()
    } catch (err) {
      stream?.abort(err as Error)
      if (signal.aborted) throw new SyncError('TIMEOUT', `${protocol} to ${peer} timed out after ${options.timeoutMs} ms`)
      const e = err as Error & { name?: string }
      if (e.name === 'InvalidDataLengthError') throw new SyncError('TOO_LARGE', `${protocol} reply from ${peer} exceeds ${options.maxResponseBytes} bytes`)
      throw new SyncError('STREAM_FAILED', `${protocol} with ${peer} failed: ${e.message}`)
    }
  }

  async handle (protocol: string, handler: RequestHandler, options: HandleOptions): Promise<void> {
    const turns = options.repliesPerPeer === undefined ? undefined : new PeerTurns(options.repliesPerPeer)
    await this.#libp2p.handle(protocol, async (stream, connection) => {
      // Reading starts at once: libp2p 3 resets a stream nobody listens to.
      const lp = lpStream(stream, { maxDataLength: options.maxRequestBytes })
      const signal = AbortSignal.timeout(HANDLER_TIMEOUT_MS)
      const peer = connection.remotePeer.toString()
      let turn = false
      try {
        const request = await lp.read({ signal })
        if (turns !== undefined) {
          await turns.take(peer, signal)
          turn = true
        }
        const reply = await handler(request.subarray(), peer)
        await lp.write(reply, { signal })
        await stream.close({ signal })
      } catch (err) {
        this.#log.debug(`${protocol} from ${peer} failed: ${(err as Error).message}`)
        stream.abort(err as Error)
      } finally {
        if (turn) turns?.give(peer)
      }
    }, { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.#libp2p.unhandle(protocol)
  }
}
