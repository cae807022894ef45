/**
 * The chain's doors. Its consumers (the wallet, sync, gossip, the miner, RPC,
 * the mempool file, and the services to come) each depend on the ports they
 * use, or on the members of them they use (Pick), never on Chain: Chain
 * implements them all, and a test can fake what a consumer takes. The mempool
 * is seen through MempoolView alone: it changes only through the chain.
 */
import type { EventEmitter } from 'node:events'
import type { Block, Header } from '../core/block.ts'
import type { CID } from '../core/cbor.ts'
import { CointsError } from '../core/errors.ts'
import type { NetworkParams } from '../core/params.ts'
import type { Coin } from '../core/rules.ts'
import type { Tx } from '../core/tx.ts'
import type { ChainStatsView } from './chain-stats.ts'
import type { PackageLimits } from './mempool.ts'
import type { BlockEntry, BlockInfo, BlockSelection, BlockValidity, ChainEvents, MempoolEntry, ProcessOptions, ProcessResult, UtxoSummary } from './types.ts'
import type { UtxoCheck } from './verify-chain.ts'

/** The chain service is not running: before start() or after stop(), nothing may change its state; or it halted. */
export class ChainError extends CointsError<'NOT_RUNNING' | 'HALTED'> {}

/** The chain's events (ChainEvents), to follow and to stop following. */
export type ChainEventSource = Pick<EventEmitter<ChainEvents>, 'on' | 'off'>

/**
 * The read side: the best chain, the block index, blocks, headers and
 * transactions by id, coins and undo data, and the chain's events. Reads wait
 * for no turn: during a reorganisation they see the chain as it stands then.
 */
export interface ChainReader extends ChainEventSource {
  readonly params: NetworkParams
  /** What signatures on this network commit to. */
  readonly chainTag: Uint8Array
  readonly tip: BlockEntry
  readonly height: number
  /** The chain's clock, in seconds (what blocks and mempool arrival times are judged by). */
  now: () => number
  /** Orphans, reorganisations and arrival times seen since start. */
  readonly stats: ChainStatsView
  /** A valid indexed block (any branch). */
  getEntry: (id: string) => BlockEntry | undefined
  /** The best-chain block at a height. */
  getEntryAt: (height: number) => BlockEntry | undefined
  isOnBestChain: (id: string) => boolean
  /** Whether the block is indexed (invalid ones included) or held as an orphan. */
  hasBlock: (id: string) => boolean
  /** An indexed block, invalid ones included, and where it stands. */
  blockInfo: (id: string) => BlockInfo | undefined
  /** The indexed blocks whose parent is `id`, each with where it stands. */
  childrenOf: (id: string) => Array<{ entry: BlockEntry, validity: BlockValidity }>
  /** Blocks held whose parent is unknown. */
  readonly orphanCount: number
  /** A block's median time past (default: the tip's): a block on it must be later. */
  medianTimePast: (entry?: BlockEntry) => number
  /** The bits a block on `parent` (default: the tip) must claim. */
  nextBits: (parent?: BlockEntry) => number
  /** Best-chain block ids, dense near the tip then exponentially sparser (what a peer finds our fork point from). */
  locator: () => string[]
  /** A valid stored block (an invalid one has its header alone). */
  getBlock: (id: CID) => Promise<Block | undefined>
  /** Stored blocks, for the first of `ids` up to the first not stored. */
  getBlocks: (ids: CID[]) => Promise<Block[]>
  /** The header of any indexed block, invalid ones included. */
  getHeader: (id: CID) => Promise<Header | undefined>
  /** Valid stored blocks as peers are sent them, undecoded: the first of `ids` up to the first that is not one. */
  getBlocksWire: (ids: CID[]) => Promise<Uint8Array[]>
  /** Headers of indexed blocks as stored. */
  getHeadersWire: (ids: CID[]) => Promise<Uint8Array[]>
  /** A mempool or stored transaction. */
  getTx: (id: CID) => Promise<Tx | undefined>
  /** Decodes a block message, taking transactions the mempool holds (their checks carry over). */
  decodeBlock: (bytes: Uint8Array, expected?: Header) => Block
  /** Unspent coins by outpoint key (absent: unknown or spent). */
  getCoins: (keys: string[]) => Promise<Map<string, Coin>>
  /** The coins a best-chain block spent (its undo data). */
  getSpentCoins: (entry: BlockEntry) => Promise<Array<[string, Coin]>>
  utxoSummary: () => UtxoSummary
}

/**
 * The write side: what changes the chain, one call at a time in the chain's
 * queue. Refused with ChainError before start, after stop and once halted.
 */
export interface ChainWriter {
  /** Validates and stores a block, moving the tip when it extends the chain with most work. */
  processBlock: (block: Block, options?: ProcessOptions) => Promise<ProcessResult>
  /**
   * Adds a transaction to the mempool (arrived at `time`, brought by `source`:
   * a peer id, 'rpc', 'wallet'…), or throws TxError with its code.
   */
  acceptTx: (tx: Tx, time?: number, source?: string) => Promise<MempoolEntry>
  /** Writes the UTXO changes held in memory now. */
  flush: () => Promise<void>
  /** Recomputes the UTXO set from the best chain's blocks and compares it with the stored one. */
  verifyChain: () => Promise<UtxoCheck>
}

/** Where block templates come from. */
export interface TemplateSource {
  /** The mempool's best packages for a block on the tip, within maxBytes, chosen in the chain's turn. */
  selectForBlock: (maxBytes: number) => Promise<BlockSelection>
}

/** The mempool, read-only. */
export interface MempoolView {
  readonly size: number
  /** Serialised bytes of the transactions. */
  readonly bytes: number
  /** Their estimated memory, which maxBytes bounds. */
  readonly usage: number
  readonly maxBytes: number
  /** Least fee per byte, in base units, to enter. */
  readonly minFeeRate: number
  readonly limits: PackageLimits
  /** Index entries eviction passes have looked at, in all (what evicting costs). */
  readonly evictionLookups: number
  has: (id: string) => boolean
  get: (id: string) => MempoolEntry | undefined
  /** In arrival order, parents before children. */
  entries: () => IterableIterator<MempoolEntry>
}
