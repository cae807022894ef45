import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../log.ts'
import { SyncError } from './sync-messages.ts'
import type { RequestHandler, RequestOptions, RequestTransport } from './transport.ts'

/** Streams of one protocol a peer may have open at once, each way. */
const MAX_STREAMS_PER_PROTOCOL = 8
const HANDLER_TIMEOUT_MS = 30_000

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

  async handle (protocol: string, handler: RequestHandler, options: { maxRequestBytes: number }): Promise<void> {
    await this.#libp2p.handle(protocol, async (stream, connection) => {
      // Reading starts at once: libp2p 3 resets a stream nobody listens to.
      const lp = lpStream(stream, { maxDataLength: options.maxRequestBytes })
      const signal = AbortSignal.timeout(HANDLER_TIMEOUT_MS)
      try {
        const request = await lp.read({ signal })
        const reply = await handler(request.subarray(), connection.remotePeer.toString())
        await lp.write(reply, { signal })
        await stream.close({ signal })
      } catch (err) {
        this.#log.debug(`${protocol} from ${connection.remotePeer.toString()} failed: ${(err as Error).message}`)
        stream.abort(err as Error)
      }
    }, { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.#libp2p.unhandle(protocol)
  }
}
