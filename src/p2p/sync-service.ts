import { Header, type Block } from '../core/block.ts'
import { parseCid } from '../core/cbor.ts'
import { genesisBlock } from '../core/params.ts'
import { workOf } from '../core/pow.ts'
import { checkProofOfWork } from '../core/rules.ts'
import type { ChainReader, ChainWriter } from '../chain/ports.ts'
import type { Logger, Progress } from '../log.ts'
import type { Startable } from '../util/startable.ts'
import { BlockDownload } from './block-download.ts'
import { headersAfterLocator, servedBlocks, type ServedChain } from './block-server.ts'
import { SyncProgress } from './sync-progress.ts'
import type { PeerPolicy, RequestTransport } from './transport.ts'
import { judge, verdictOf } from './verdicts.ts'
import {
  decodeBlocksRequest, decodeBlocksResponse, decodeHeadersRequest, decodeHeadersResponse, decodeStatus, decodeStatusRequest,
  encodeBlocksRequest, encodeBlocksResponse, encodeHeadersRequest, encodeHeadersResponse, encodeStatus,
  BLOCKS_REPLY_BYTES, MAX_BLOCKS_PER_REQUEST, MAX_HEADERS, MAX_LOCATOR, MAX_SYNC_MESSAGE_BYTES, type Status, SyncError
} from './sync-messages.ts'

/** What sync reads of the chain, serves peers from, and hands it. */
export type SyncChain = ServedChain & Pick<ChainReader, 'params' | 'height' | 'locator' | 'getEntry' | 'decodeBlock'> & Pick<ChainWriter, 'processBlock'>

export interface SyncComponents {
  chain: SyncChain
  transport: RequestTransport
  peers: PeerPolicy
  logger: Logger
  /** Where a sync of more than one block shows its progress and its end (none: it says nothing). */
  progress?: Progress
}

export interface SyncInit {
  /** Protocol ids start with this: /coints/<network>/<genesis id>. */
  protocolPrefix: string
  requestTimeoutMs?: number
  /** How often peers are asked for their status, to notice a heavier chain that gossip missed. */
  statusIntervalMs?: number
}

export interface PeerSyncState {
  status?: Status
  /** The highest block the peer relayed to us that connected: newer than its last status between polls. */
  relayedHeight?: number
  /** When we last synced from it without reaching what it claimed. */
  disappointedAt?: number
}

/** Block requests in flight to one peer: below the streams a peer may open per protocol (MAX_STREAMS_PER_PROTOCOL), leaving one for re-asking. */
const PIPELINE_DEPTH = 6
/**
 * Headers held back at most while their branch shows less work than our tip
 * (two rounds, what a download holds anyway): the deepest fork a sync follows,
 * at our tip's difficulty.
 */
export const MAX_LOW_WORK_HEADERS = 2 * MAX_HEADERS

/**
 * Chain sync over request/response streams (headers first): status on connect,
 * headers by block locator, then blocks by id in bounded batches, connected in
 * order. Follows the peer with most work; a peer that answers garbage or
 * invalid blocks is penalised and another one is used.
 */
export class SyncService implements Startable {
  readonly #c: SyncComponents
  readonly #protocols: { status: string, headers: string, blocks: string }
  readonly #timeoutMs: number
  readonly #statusIntervalMs: number
  readonly #peers = new Map<string, PeerSyncState>()
  #running: Promise<void> | undefined
  #again = false
  #preferred: string | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = true
  /** Height of the last header received in the sync under way (0 between syncs). */
  #downloadingTo = 0
  /** The sync under way: target, rate, time left. */
  readonly progress: SyncProgress

  constructor (components: SyncComponents, init: SyncInit) {
    this.#c = components
    this.progress = new SyncProgress(components.progress)
    this.#protocols = {
      status: `${init.protocolPrefix}/status/1.0.0`,
      headers: `${init.protocolPrefix}/headers/1.0.0`,
      blocks: `${init.protocolPrefix}/blocks/1.0.0`
    }
    this.#timeoutMs = init.requestTimeoutMs ?? 20_000
    this.#statusIntervalMs = init.statusIntervalMs ?? 15_000
  }

  get protocols (): string[] { return Object.values(this.#protocols) }

  async start (): Promise<void> {
    if (!this.#stopped) return
    this.#stopped = false
    const { transport } = this.#c
    await transport.handle(this.#protocols.status, async body => {
      decodeStatusRequest(body)
      return encodeStatus(this.ownStatus())
    }, { maxRequestBytes: 64 })
    await transport.handle(this.#protocols.headers, async body => {
      const { locator, max } = decodeHeadersRequest(body)
      return encodeHeadersResponse(await headersAfterLocator(this.#c.chain, locator.map(c => c.toString()), max))
    }, { maxRequestBytes: 8_192 })
    // A blocks reply holds up to ~5 MB until read: two a peer bounds what peers that never read can pin (maxPeers × 10 MB).
    await transport.handle(this.#protocols.blocks, async body => encodeBlocksResponse(await servedBlocks(this.#c.chain, decodeBlocksRequest(body))), { maxRequestBytes: 8_192, repliesPerPeer: 2 })
    this.#timer = setInterval(() => { this.#pollStatuses() }, this.#statusIntervalMs)
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    for (const protocol of this.protocols) await this.#c.transport.unhandle(protocol)
    await this.#running?.catch(() => {})
  }

  ownStatus (): Status {
    const tip = this.#c.chain.tip
    return { genesis: genesisBlock(this.#c.chain.params).id, tip: tip.id, height: tip.height, chainwork: tip.chainwork }
  }

  /** Height of the best header known: the sync's under way, else the tip's (getblockchaininfo's `headers`). */
  get headersHeight (): number {
    return Math.max(this.#downloadingTo, this.#c.chain.height)
  }

  peerState (peer: string): PeerSyncState | undefined {
    return this.#peers.get(peer)
  }

  /** The peer's height as best we know it: its last status, or a block it relayed since. */
  peerHeight (peer: string): number | null {
    const state = this.#peers.get(peer)
    const heights = [state?.status?.height, state?.relayedHeight].filter(h => h !== undefined)
    return heights.length === 0 ? null : Math.max(...heights)
  }

  /** The peer relayed a block at `height` that connected: it has that block. */
  peerRelayed (peer: string, height: number): void {
    const state = this.#peers.get(peer)
    if (state !== undefined) state.relayedHeight = Math.max(state.relayedHeight ?? 0, height)
  }

  /** A new connection: learn its status, and sync if it has more work. */
  peerConnected (peer: string): void {
    if (!this.#peers.has(peer)) this.#peers.set(peer, {})
    void this.#refreshStatus(peer).then(() => { this.#schedule() }, () => {})
  }

  peerDisconnected (peer: string): void {
    this.#peers.delete(peer)
  }

  /** A peer showed us a block we cannot connect (its parent is unknown): fetch what we miss from it. */
  requestSync (peer: string): void {
    this.#preferred = peer
    const state = this.#peers.get(peer)
    if (state === undefined) this.#peers.set(peer, {})
    if (state?.disappointedAt === undefined) {
      this.#schedule()
      return
    }
    // It disappointed us before: worth another try once its status has changed (a new status clears that).
    void this.#refreshStatus(peer).then(() => { this.#schedule() }, () => {})
  }

  #pollStatuses (): void {
    for (const peer of this.#peers.keys()) void this.#refreshStatus(peer).then(() => { this.#schedule() }, () => {})
  }

  async #refreshStatus (peer: string): Promise<void> {
    const state = this.#peers.get(peer)
    if (state === undefined) return
    try {
      const status = decodeStatus(await this.#request(peer, this.#protocols.status, new Uint8Array(0), 1_024))
      if (!status.genesis.equals(genesisBlock(this.#c.chain.params).id)) throw new SyncError('WRONG_NETWORK', `${peer} has genesis ${status.genesis.toString()}`)
      if (status.chainwork !== state.status?.chainwork) state.disappointedAt = undefined
      state.status = status
    } catch (err) {
      // Only what the peer said counts here: a status poll that times out is retried at the next one.
      if (err instanceof SyncError && (err.code === 'MALFORMED' || err.code === 'WRONG_NETWORK')) judge(this.#c.peers, peer, err.verdict, err.message)
      this.#c.logger.debug(`status from ${peer} failed: ${(err as Error).message}`)
      throw err
    }
  }

  /** Runs the sync loop once more when it is idle, or right after the current pass. */
  #schedule (): void {
    if (this.#stopped) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined
      if (this.#again) {
        this.#again = false
        this.#schedule()
      }
    })
  }

  async #loop (): Promise<void> {
    for (let peer = this.#pickPeer(); peer !== undefined && !this.#stopped; peer = this.#pickPeer()) {
      const before = this.#c.chain.tip.chainwork
      try {
        await this.#syncFrom(peer)
      } catch (err) {
        this.#c.logger.warn(`sync from ${peer} failed: ${(err as Error).message}`)
        const verdict = verdictOf(err)
        if (verdict !== undefined) judge(this.#c.peers, peer, verdict, (err as Error).message)
      }
      const state = this.#peers.get(peer)
      if (state !== undefined && (state.status === undefined || state.status.chainwork > this.#c.chain.tip.chainwork || this.#c.chain.tip.chainwork === before)) {
        state.disappointedAt = Date.now()
      }
    }
  }

  /** The preferred peer (it showed us an orphan), else the one claiming most work above ours. */
  #pickPeer (): string | undefined {
    const preferred = this.#preferred
    this.#preferred = undefined
    // A peer that disappointed is not preferred for showing an orphan (cheap to send) until its status changes.
    const preferredState = preferred === undefined ? undefined : this.#peers.get(preferred)
    if (preferredState !== undefined && preferredState.disappointedAt === undefined) return preferred
    let best: string | undefined
    let bestWork = this.#c.chain.tip.chainwork
    for (const [peer, state] of this.#peers) {
      const work = state.status?.chainwork
      if (work !== undefined && work > bestWork && state.disappointedAt === undefined) {
        best = peer
        bestWork = work
      }
    }
    return best
  }

  async #syncFrom (peer: string): Promise<void> {
    const { chain, logger } = this.#c
    const claimed = this.#peers.get(peer)?.status?.chainwork
    const download = new BlockDownload({
      headers: async after => {
        const locator = [...(after === undefined ? [] : [after.idString]), ...chain.locator()].slice(0, MAX_LOCATOR)
        const request = encodeHeadersRequest(locator.map(id => parseCid(id)), MAX_HEADERS)
        const headers = this.#checkHeaders(decodeHeadersResponse(await this.#request(peer, this.#protocols.headers, request, MAX_SYNC_MESSAGE_BYTES)), after)
        if (headers.length > 0) {
          logger.debug(`headers ${headers[0].data.height}..${headers[headers.length - 1].data.height} from ${peer}`)
          this.#downloadingTo = Math.max(this.#downloadingTo, headers[headers.length - 1].data.height)
          this.progress.target(this.#downloadingTo)
        }
        return headers
      },
      blocks: async batch => await this.#fetchBlocks(peer, batch)
    }, {
      roundSize: MAX_HEADERS,
      batchSize: MAX_BLOCKS_PER_REQUEST,
      depth: PIPELINE_DEPTH,
      // Not indexed yet: an orphan gossip brought is fetched again, as requested (processed as unrequested it may be refused).
      wanted: h => chain.blockInfo(h.idString) === undefined,
      worthFetching: (branch, complete) => this.#worthFetching(branch, complete, claimed),
      connect: async block => {
        await chain.processBlock(block, { requested: true, source: peer })
        this.progress.connected(chain.height)
      },
      stopped: () => this.#stopped
    })
    this.progress.begin(peer, chain.height, this.#peers.get(peer)?.status?.height ?? chain.height)
    try {
      await download.run()
    } finally {
      this.#downloadingTo = 0
      this.progress.end(chain.tip.idString)
    }
    await this.#refreshStatus(peer).catch(() => {})
  }

  /**
   * Headers first, as Bitcoin Core: a branch's blocks are fetched once its
   * headers carry at least our tip's work. A branch whose headers end short of
   * the work its peer claimed, or that stays below ours for MAX_LOW_WORK_HEADERS
   * headers, ends the sync with that peer (counted lightly: a peer's status read
   * during its own reorganisation can claim more than its headers then show).
   */
  #worthFetching (branch: Header[], complete: boolean, claimed: bigint | undefined): boolean {
    const tip = this.#c.chain.tip.chainwork
    // No headers: the peer's best block is one of our locator's, with no more work than our tip.
    const work = branch.length === 0 ? tip : this.#branchWork(branch)
    if (branch.length > 0 && work >= tip) return true
    if (complete) {
      if (claimed !== undefined && claimed > work) throw new SyncError('LOW_WORK', `status claimed chainwork ${claimed.toString(16)}, its headers carry ${work.toString(16)}`)
      return false
    }
    if (branch.length >= MAX_LOW_WORK_HEADERS) throw new SyncError('TOO_DEEP', `${branch.length} headers past the fork point carry less work than our tip`)
    return false
  }

  /** Cumulative work at a branch's last header; its first hangs off a block we index (checked with the headers). */
  #branchWork (branch: Header[]): bigint {
    const base = this.#c.chain.blockInfo(branch[0].data.prev?.toString() ?? '')
    if (base === undefined) throw new SyncError('BAD_HEADERS', 'headers do not start from a block we know')
    let work = base.entry.chainwork
    for (const h of branch) work += workOf(h.data.bits)
    return work
  }

  /**
   * Headers must decode, carry their proof of work, and form one chain hanging
   * off `after` (the previous round's last header, not connected yet) or a
   * valid block we index.
   */
  #checkHeaders (raw: Uint8Array[], after: Header | undefined): Header[] {
    const headers = raw.map(bytes => {
      try {
        return Header.fromBytes(bytes)
      } catch (err) {
        throw new SyncError('BAD_HEADERS', (err as Error).message)
      }
    })
    if (headers.length === 0) return headers
    const first = headers[0].data.prev?.toString()
    const parent = first === undefined ? undefined : first === after?.idString ? after.data : this.#c.chain.getEntry(first)
    if (parent === undefined) throw new SyncError('BAD_HEADERS', 'headers do not start from a block we know')
    for (let i = 0; i < headers.length; i++) {
      const { data } = headers[i]
      if (i > 0 && data.prev?.toString() !== headers[i - 1].idString) throw new SyncError('BAD_HEADERS', `header ${i} does not follow header ${i - 1}`)
      if (data.height !== (i === 0 ? parent.height : headers[i - 1].data.height) + 1) throw new SyncError('BAD_HEADERS', `header ${i} has height ${data.height}`)
      checkProofOfWork(headers[i], this.#c.chain.params)
    }
    return headers
  }

  /**
   * The first blocks of `batch`, as many as the peer's reply holds. A reply stops
   * early only when full: a peer serves every block whose header it sent us, so
   * one that answers a block at a time would otherwise hold the sync at its pace.
   */
  async #fetchBlocks (peer: string, batch: Header[]): Promise<Block[]> {
    const reply = decodeBlocksResponse(await this.#request(peer, this.#protocols.blocks, encodeBlocksRequest(batch.map(h => h.id)), MAX_SYNC_MESSAGE_BYTES))
    if (reply.length === 0 || reply.length > batch.length) throw new SyncError('BAD_BLOCK', `asked for ${batch.length} blocks, got ${reply.length}`)
    if (reply.length < batch.length && reply.reduce((sum, b) => sum + b.length, 0) < BLOCKS_REPLY_BYTES) {
      throw new SyncError('WITHHELD', `asked for ${batch.length} blocks, got ${reply.length} in a reply that was not full`)
    }
    return reply.map((bytes, n) => {
      let block: Block
      try {
        block = this.#c.chain.decodeBlock(bytes, batch[n])
      } catch (err) {
        throw new SyncError('BAD_BLOCK', (err as Error).message)
      }
      if (block.idString !== batch[n].idString) throw new SyncError('UNREQUESTED', `got block ${block.idString}, asked for ${batch[n].idString}`)
      return block
    })
  }

  async #request (peer: string, protocol: string, body: Uint8Array, maxResponseBytes: number): Promise<Uint8Array> {
    return await this.#c.transport.request(peer, protocol, body, { timeoutMs: this.#timeoutMs, maxResponseBytes })
  }
}
