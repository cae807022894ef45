import type { Block, Header } from '../core/block.ts'

/** What a download asks of the peer it syncs from. */
export interface DownloadSource {
  /** Checked headers following `after` (or our best block the peer also has, when undefined). */
  headers: (after: Header | undefined) => Promise<Header[]>
  /** The first blocks of `batch`, as many as one reply holds (at least one). */
  blocks: (batch: Header[]) => Promise<Block[]>
}

export interface DownloadInit {
  /** Headers a full reply holds: a shorter reply is the peer's last. */
  roundSize: number
  /** Blocks asked for in one request. */
  batchSize: number
  /** Block requests in flight, counting the one for the batch to connect next. */
  depth: number
  /** Whether a block is still to fetch (not stored yet). */
  wanted: (header: Header) => boolean
  /**
   * Whether the branch the headers so far make (every round's, from the first)
   * carries enough work for its blocks to be fetched; `complete` once the peer
   * has no more. False holds the headers back and asks for the next round;
   * throwing ends the download (a branch held back too long).
   */
  worthFetching: (branch: Header[], complete: boolean) => boolean
  connect: (block: Block) => Promise<void>
  stopped: () => boolean
}

/**
 * One headers-first download from one peer, as a single ordered stream of
 * batches: headers are fetched a round ahead while blocks download `depth`
 * requests ahead of the one being connected, so the pipeline does not drain
 * between rounds. At most two rounds of headers wait at once. Headers come
 * first: no block is asked for until the headers show a branch worth it
 * (`worthFetching`), so a peer cannot have us fetch a branch that cannot matter.
 */
export class BlockDownload {
  readonly #source: DownloadSource
  readonly #init: DownloadInit
  readonly #batches: Header[][] = []
  readonly #replies: Array<Promise<Block[]>> = []
  /** Blocks whose headers are queued and not connected yet. */
  #queued = 0
  #headersDone = false
  #headersError: unknown
  #change = Promise.withResolvers<void>()

  constructor (source: DownloadSource, init: DownloadInit) {
    this.#source = source
    this.#init = init
  }

  async run (): Promise<void> {
    void this.#fetchHeaders()
    try {
      for (let i = 0; !this.#init.stopped(); i++) {
        while (i >= this.#batches.length && !this.#headersDone) await this.#changed()
        if (i >= this.#batches.length) break
        this.#fetchAhead(i)
        await this.#connectBatch(this.#batches[i], await this.#replies[i])
        this.#queued -= this.#batches[i].length
        this.#notify()
      }
    } finally {
      // Stops the header fetching too (it keeps a failure of its own to itself).
      this.#headersDone = true
      this.#notify()
    }
    if (this.#headersError !== undefined) throw this.#headersError
  }

  async #fetchHeaders (): Promise<void> {
    const { roundSize, batchSize, wanted, worthFetching, stopped } = this.#init
    try {
      let after: Header | undefined
      /** Headers held back until their branch is worth fetching; undefined once it is. */
      let pending: Header[] | undefined = []
      while (!this.#headersDone && !stopped()) {
        const round = await this.#source.headers(after)
        const complete = round.length < roundSize
        let headers = round
        if (pending !== undefined) {
          for (const h of round) pending.push(h)
          if (!worthFetching(pending, complete)) {
            if (complete) break
            after = round[round.length - 1]
            continue
          }
          headers = pending
          pending = undefined
        }
        const fresh = headers.filter(wanted)
        for (let i = 0; i < fresh.length; i += batchSize) this.#batches.push(fresh.slice(i, i + batchSize))
        this.#queued += fresh.length
        this.#notify()
        if (complete || fresh.length === 0) break
        after = round[round.length - 1]
        while (this.#queued >= roundSize && !this.#headersDone) await this.#changed()
      }
    } catch (err) {
      this.#headersError = err
    } finally {
      this.#headersDone = true
      this.#notify()
    }
  }

  #fetchAhead (connecting: number): void {
    while (this.#replies.length < this.#batches.length && this.#replies.length < connecting + this.#init.depth) {
      const reply = this.#source.blocks(this.#batches[this.#replies.length])
      // Awaited in its turn; a failure then is still this peer's.
      reply.catch(() => {})
      this.#replies.push(reply)
    }
  }

  /** A reply stops at its byte limit: what it left out is asked for again before going on. */
  async #connectBatch (batch: Header[], blocks: Block[]): Promise<void> {
    for (let done = 0; ; blocks = await this.#source.blocks(batch.slice(done))) {
      for (const block of blocks) await this.#init.connect(block)
      done += blocks.length
      if (done === batch.length || this.#init.stopped()) return
    }
  }

  async #changed (): Promise<void> {
    await this.#change.promise
  }

  #notify (): void {
    this.#change.resolve()
    this.#change = Promise.withResolvers()
  }
}
