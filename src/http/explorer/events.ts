import type { ServerResponse } from 'node:http'
import type { Logger } from '../../log.ts'
import { COMMON_HEADERS, HttpError } from '../respond.ts'
import type { HttpRoute } from '../types.ts'
import type { MempoolView } from './mempool-view.ts'
import type { ExplorerSources } from './types.ts'
import { statusView, type BlockSummaries } from './views.ts'

export interface EventHubInit {
  /** Event streams open at once at most; past it a new one is answered 429. */
  maxClients?: number
  /** A client that has not taken this many bytes of its stream is dropped (it stopped reading). */
  maxBufferedBytes?: number
  /** A comment is sent this often, so that idle connections stay open through proxies and the server's idle timeout. */
  heartbeatMs?: number
  /** New tips are sent at most this often (a sync moves the tip thousands of times). */
  tipIntervalMs?: number
  /** Status and mempool figures are sent at most this often, when they changed. */
  statusIntervalMs?: number
}

/**
 * /api/events: server-sent events for the explorer's live page. Each event is
 * made once and written to every client: `tip` (the new tip's summary, at most
 * every 250 ms), `status` and `mempool` (when they changed, at most once a
 * second), and a heartbeat comment. Bounded: clients at once, and bytes a
 * client may leave unread (a client that stops reading is dropped). Nothing
 * runs while no client is connected.
 */
export class EventHub {
  readonly #s: ExplorerSources
  readonly #summaries: BlockSummaries
  readonly #mempool: MempoolView
  readonly #log: Logger
  readonly #init: Required<EventHubInit>
  readonly #clients = new Set<ServerResponse>()
  #timers: NodeJS.Timeout[] = []
  #tipDirty = false
  #lastStatus = ''
  #lastMempool = -1

  constructor (components: { sources: ExplorerSources, summaries: BlockSummaries, mempool: MempoolView, logger: Logger }, init: EventHubInit = {}) {
    this.#s = components.sources
    this.#summaries = components.summaries
    this.#mempool = components.mempool
    this.#log = components.logger
    this.#init = { maxClients: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 15_000, tipIntervalMs: 250, statusIntervalMs: 1_000, ...init }
  }

  get clients (): number { return this.#clients.size }

  route (): HttpRoute {
    return { prefix: '/api/events', methods: ['GET'], handler: async (req, res) => { await this.#open(req.socket.remoteAddress, res) } }
  }

  async #open (from: string | undefined, res: ServerResponse): Promise<void> {
    if (this.#clients.size >= this.#init.maxClients) throw new HttpError('TOO_MANY', `too many event streams: at most ${this.#init.maxClients} at once; try again later`)
    const hello = JSON.stringify(await statusView(this.#s, this.#summaries))
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    // A browser that lost the stream comes back after 3 s.
    res.write(`retry: 3000\nevent: status\ndata: ${hello}\n\n`)
    this.#clients.add(res)
    res.once('close', () => {
      this.#clients.delete(res)
      if (this.#clients.size === 0) this.#idle()
    })
    if (this.#clients.size === 1) this.#wake()
    this.#log.debug(`event stream opened from ${from ?? '?'} (${this.#clients.size} open)`)
  }

  /** Ends every stream (the node stops). */
  stop (): void {
    for (const res of this.#clients) res.end()
    this.#clients.clear()
    this.#idle()
  }

  readonly #onTip = (): void => { this.#tipDirty = true }

  #wake (): void {
    this.#s.chain.on('tip', this.#onTip)
    this.#timers = [
      setInterval(() => { void this.#sendTip() }, this.#init.tipIntervalMs),
      setInterval(() => { void this.#sendStatus() }, this.#init.statusIntervalMs),
      setInterval(() => { this.#broadcast(': heartbeat\n\n') }, this.#init.heartbeatMs)
    ]
  }

  #idle (): void {
    this.#s.chain.off('tip', this.#onTip)
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
  }

  async #sendTip (): Promise<void> {
    if (!this.#tipDirty) return
    this.#tipDirty = false
    try {
      const summary = await this.#summaries.of(this.#s.chain.tip)
      this.#broadcast(`event: tip\ndata: ${JSON.stringify(summary)}\n\n`)
    } catch (err) {
      this.#log.debug(`event stream: tip summary failed: ${(err as Error).message}`)
    }
  }

  async #sendStatus (): Promise<void> {
    if (this.#mempool.version !== this.#lastMempool) {
      this.#lastMempool = this.#mempool.version
      this.#broadcast(`event: mempool\ndata: ${JSON.stringify(this.#mempool.view())}\n\n`)
    }
    try {
      const status = JSON.stringify(await statusView(this.#s, this.#summaries))
      if (status === this.#lastStatus) return
      this.#lastStatus = status
      this.#broadcast(`event: status\ndata: ${status}\n\n`)
    } catch (err) {
      this.#log.debug(`event stream: status failed: ${(err as Error).message}`)
    }
  }

  #broadcast (text: string): void {
    for (const res of this.#clients) {
      if (res.writableLength > this.#init.maxBufferedBytes) {
        this.#log.debug('event stream dropped: its client stopped reading')
        res.destroy()
        continue
      }
      res.write(text)
    }
  }
}
