import type { Logger } from '../../log.ts'
import type { HttpRoute } from '../types.ts'
import { apiRoute } from './api.ts'
import { EventHub, type EventHubInit } from './events.ts'
import { MempoolView } from './mempool-view.ts'
import { staticRoute } from './static.ts'
import type { ExplorerSources } from './types.ts'
import { BlockSummaries } from './views.ts'

/**
 * The explorer: a page at / (plain HTML, CSS and JavaScript modules served
 * from src/http/explorer/public), the JSON it reads under /api/ and its live
 * updates at /api/events. Read-only; every answer a bounded amount of work.
 */
export class Explorer {
  readonly #mempool: MempoolView
  readonly events: EventHub
  readonly routes: HttpRoute[]

  constructor (components: { sources: ExplorerSources, logger: Logger }, init: EventHubInit = {}) {
    const summaries = new BlockSummaries(components.sources.chain)
    this.#mempool = new MempoolView(components.sources.chain, components.sources.mempool)
    this.events = new EventHub({ sources: components.sources, summaries, mempool: this.#mempool, logger: components.logger }, init)
    this.routes = [staticRoute(), apiRoute(components.sources, summaries, this.#mempool), this.events.route()]
    // From construction: the mempool's view must see every transaction the pool takes, mempool.dat's first.
    this.#mempool.start()
  }

  stop (): void {
    this.events.stop()
    this.#mempool.stop()
  }
}
