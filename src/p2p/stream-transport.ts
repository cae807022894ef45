import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { CointsError, Verdict, type PeerVerdict } from '../core/errors.ts'
import type { Logger } from '../log.ts'
import { watchStall } from '../util/stall-watch.ts'
import { FramingError, readFrame, writeFrame, type FramingErrorCode } from './framing.ts'
import { SyncError } from './sync-messages.ts'
import type { HandleOptions, PeerPolicy, RequestHandler, RequestOptions, RequestTransport } from './transport.ts'
import { judge } from './verdicts.ts'

/** Streams of one protocol a peer may have open at once, each way. */
const MAX_STREAMS_PER_PROTOCOL = 8
/** A whole exchange on a stream a peer opened, waiting for a turn included. */
const HANDLER_TIMEOUT_MS = 30_000
/** A request is one small frame sent at once: a peer that opens a stream and says nothing for this long is stalling. */
const REQUEST_READ_TIMEOUT_MS = 10_000
/** A reply the peer takes none of for this long is cut, and the peer disconnected: a reply pins its bytes until read (a blocks reply ~4 MB). */
const REPLY_STALL_MS = 5_000

/** How a stream exchange failed: the framing's codes, and the transport's deadlines. */
export type StreamFailureCode = FramingErrorCode | 'READ_TIMEOUT' | 'REPLY_STALLED'

/**
 * Each stream failure's verdict on the peer, in the style of SYNC_VERDICTS:
 * bytes that break the framing are provable garbage; a frame cut short or a
 * stall is light, as honest links fail now and then; a reset or a dropped
 * connection proves nothing. (A request that does not decode is its SyncError's
 * MALFORMED.)
 */
export const STREAM_VERDICTS: { readonly [C in StreamFailureCode]: PeerVerdict } = {
  BAD_VARINT: Verdict.BAN,
  FRAME_TOO_LONG: Verdict.BAN,
  TRUNCATED: Verdict.LIGHT,
  READ_TIMEOUT: Verdict.LIGHT,
  REPLY_STALLED: Verdict.LIGHT,
  CLOSED: Verdict.IGNORE
}

/** A deadline an exchange missed. */
export class StreamFailure extends CointsError<StreamFailureCode> {}

export interface StreamTransportComponents {
  libp2p: Libp2p
  /** Stream failures are reported here, by STREAM_VERDICTS. */
  peers: PeerPolicy
  logger: Logger
}

/** Deadlines, replaceable in tests. */
export interface StreamTransportInit {
  requestReadMs?: number
  replyStallMs?: number
}

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
 * length-prefixed reply (src/p2p/framing.ts), then the stream closes. Sizes are
 * bounded on both sides and every exchange has deadlines; a bad exchange aborts
 * only its stream, and counts against the peer when it proves something.
 * Exchanges run on relayed (limited) connections too: a private peer may have
 * no other until the pair goes direct.
 */
export class StreamTransport implements RequestTransport {
  readonly #c: StreamTransportComponents
  readonly #requestReadMs: number
  readonly #replyStallMs: number

  constructor (components: StreamTransportComponents, init: StreamTransportInit = {}) {
    this.#c = components
    this.#requestReadMs = init.requestReadMs ?? REQUEST_READ_TIMEOUT_MS
    this.#replyStallMs = init.replyStallMs ?? REPLY_STALL_MS
  }

  /**
   * Rejects with a FramingError when the reply breaks the framing (the peer is
   * penalised here), else with a SyncError TIMEOUT or STREAM_FAILED (no proof:
   * the caller judges).
   */
  async request (peer: string, protocol: string, body: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const signal = AbortSignal.timeout(options.timeoutMs)
    let stream: Stream | undefined
    try {
      stream = await this.#open(peer, protocol, signal)
      const reply = readFrame(stream, options.maxResponseBytes, { signal })
      reply.catch(() => {})
      await writeFrame(stream, body, { signal })
      const bytes = await reply
      await stream.close({ signal }).catch(() => {})
      return bytes
    } catch (err) {
      stream?.abort(err as Error)
      if (err instanceof FramingError && err.code !== 'CLOSED') {
        this.#judge(peer, `${protocol} reply`, { verdict: STREAM_VERDICTS[err.code], reason: err.message })
        throw err
      }
      if (signal.aborted) throw new SyncError('TIMEOUT', `${protocol} to ${peer} timed out after ${options.timeoutMs} ms`)
      throw new SyncError('STREAM_FAILED', `${protocol} with ${peer} failed: ${(err as Error).message}`)
    }
  }

  /**
   * A stream on a connection the peer already has, a direct one first.
   * libp2p's dialProtocol reuses only unlimited connections: to a peer reached
   * through a relay alone, every request opened a new relayed connection (one
   * a status poll, taking a slot of the relay's each), and the requests failed
   * as the relay or the peer closed the surplus.
   */
  async #open (peer: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    const id = peerIdFromString(peer)
    const open = this.#c.libp2p.getConnections(id).filter(c => c.status === 'open')
    const conn = open.find(c => c.limits === undefined) ?? open[0]
    const options = { signal, runOnLimitedConnection: true }
    return conn === undefined ? await this.#c.libp2p.dialProtocol(id, protocol, options) : await conn.newStream(protocol, options)
  }

  /**
   * Serves `protocol`. A handler throws a SyncError for a request that does not
   * decode: its verdict applies to the peer, as framing errors' and stalls' do.
   */
  async handle (protocol: string, handler: RequestHandler, options: HandleOptions): Promise<void> {
    const turns = options.repliesPerPeer === undefined ? undefined : new PeerTurns(options.repliesPerPeer)
    await this.#c.libp2p.handle(protocol, async (stream, connection) => {
      const signal = AbortSignal.timeout(HANDLER_TIMEOUT_MS)
      // Reading starts at once: libp2p 3 resets a stream nobody listens to.
      const request = readFrame(stream, options.maxRequestBytes, { signal: AbortSignal.timeout(this.#requestReadMs) })
      const peer = connection.remotePeer.toString()
      let turn = false
      let stage: Stage = 'request'
      try {
        const body = await request
        stage = 'handler'
        if (turns !== undefined) {
          await turns.take(peer, signal)
          turn = true
        }
        const reply = await handler(body, peer)
        stage = 'reply'
        await this.#reply(stream, reply, signal)
      } catch (err) {
        const blame = this.#blame(err, stage)
        if (blame !== undefined) this.#judge(peer, `${protocol} request`, blame)
        else this.#c.logger.debug(`${protocol} from ${peer} failed: ${(err as Error).message}`)
        stream.abort(err as Error)
        // A peer that reads none of a reply has stopped reading: its connection goes, and every reply it pinned with it.
        if (err instanceof StreamFailure && err.code === 'REPLY_STALLED') connection.abort(err)
      } finally {
        if (turn) turns?.give(peer)
      }
    }, { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL, runOnLimitedConnection: true })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.#c.libp2p.unhandle(protocol)
  }

  /** Sends the reply and closes; cut when the peer takes none of it for a stall period. */
  async #reply (stream: Stream, reply: Uint8Array, signal: AbortSignal): Promise<void> {
    let stalled: StreamFailure | undefined
    const stopWatch = watchStall(stream, this.#replyStallMs, left => {
      stalled = new StreamFailure('REPLY_STALLED', `the peer took none of the reply for ${this.#replyStallMs} ms (${left} bytes left)`)
      stream.abort(stalled)
    })
    try {
      await writeFrame(stream, reply, { signal })
      await stream.close({ signal })
    } catch (err) {
      throw stalled ?? err
    } finally {
      stopWatch()
    }
    // An abort empties the write buffer, which can let the close resolve.
    if (stalled !== undefined) throw stalled
  }

  /** What a failed exchange on a stream the peer opened holds against it, if anything. */
  #blame (err: unknown, stage: Stage): Blame | undefined {
    if (err instanceof FramingError || err instanceof StreamFailure) return { verdict: STREAM_VERDICTS[err.code], reason: err.message }
    if (stage === 'request' && err instanceof DOMException && err.name === 'TimeoutError') {
      return { verdict: STREAM_VERDICTS.READ_TIMEOUT, reason: new StreamFailure('READ_TIMEOUT', `no request within ${this.#requestReadMs} ms`).message }
    }
    if (stage === 'handler' && err instanceof SyncError) return { verdict: err.verdict, reason: err.message }
    return undefined
  }

  #judge (peer: string, what: string, { verdict, reason }: Blame): void {
    if (judge(this.#c.peers, peer, verdict, `${what}: ${reason}`) === 'ignore') this.#c.logger.debug(`${what} with ${peer}: ${reason}`)
  }
}

type Stage = 'request' | 'handler' | 'reply'
interface Blame { verdict: PeerVerdict, reason: string }
