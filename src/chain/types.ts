import type { Block } from '../core/block.ts'
import type { CID } from '../core/cbor.ts'
import type { NetworkParams } from '../core/params.ts'
import type { Coin } from '../core/rules.ts'
import type { Tx } from '../core/tx.ts'
import type { StoreError } from './records.ts'

/** A block in the block index (a tree of every valid header we hold). */
export interface BlockEntry {
  id: CID
  idString: string
  /** null for genesis. */
  prev: string | null
  height: number
  time: number
  bits: number
  /** Cumulative work of the chain ending here. */
  chainwork: bigint
}

/** What became of a block handed to the chain. */
export type ProcessStatus =
  | 'connected' // now part of the best chain (maybe after a reorganisation)
  | 'side' // valid so far, stored on a branch with less work
  | 'orphan' // parent unknown: held in the orphan pool, parent wanted
  | 'known' // already had it
  | 'unwanted' // unrequested, on a branch with less work than the tip: refused, nothing stored (not the sender's fault)

export interface ProcessOptions {
  /**
   * Whether this node asked for the block (sync fetches by headers that showed
   * enough work) or made it (miner, submitblock). An unrequested block (gossip)
   * is stored only if its branch has at least the tip's work. Default true.
   */
  requested?: boolean
  /** Who brought it, for logs and metrics: a peer id, 'miner' or 'rpc'. */
  source?: string
}

/** The stages of a block's validation, timed where cheap. */
export type ValidationStage = 'sanity' | 'context' | 'store' | 'connect'

/** A block the chain was handed and what became of it (every block, accepted or refused). */
export interface BlockProcessed {
  block: Block
  /** What became of it; 'invalid' when it was refused with a BlockError (`code`). */
  status: ProcessStatus | 'invalid'
  code?: string
  source?: string
  /** Seconds each stage it went through took (a known or orphan block goes through none). */
  stages: Partial<Record<ValidationStage, number>>
  /** Seconds from its arrival in the chain's queue to its verdict. */
  seconds: number
}

/** A transaction the mempool refused. */
export interface TxRefused {
  tx: Tx
  code: string
  source?: string
}

/** Where a block the chain indexed stands: on the best chain, on a side branch (not known invalid), or invalid. */
export type BlockValidity = 'active' | 'valid-fork' | 'invalid'

/** An indexed block and where it stands. */
export interface BlockInfo {
  entry: BlockEntry
  validity: BlockValidity
}

/** The UTXO set at the tip: its outputs and their total amount. */
export interface UtxoSummary { height: number, tip: string, txouts: number, total: bigint }

export interface ProcessResult {
  status: ProcessStatus
  /** For 'orphan': the id of the first missing block of its ancestry (what a sync from its sender must bring; gossip logs it). */
  missing?: string
}

export interface TipChange {
  tip: BlockEntry
  /** The tip before the change. */
  previous: BlockEntry
  /** Blocks disconnected from the old best chain (newest first); empty unless a reorganisation. */
  disconnected: BlockEntry[]
  /** Blocks connected (oldest first). */
  connected: BlockEntry[]
  /** Transactions of the disconnected blocks that went back to the mempool. */
  returned: Tx[]
}

/** What a block template is made of: the tip it builds on, and the mempool's packages chosen for it (parents first). */
export interface BlockSelection {
  parent: BlockEntry
  entries: readonly MempoolEntry[]
}

export interface MempoolEntry {
  tx: Tx
  fee: bigint
  size: number
  /** Fee per byte, in base units. */
  feeRate: number
  time: number
}

/** The events the chain service emits (Node EventEmitter names). */
export interface ChainEvents {
  /** The best chain changed. */
  tip: [TipChange]
  /** A block joined the best chain (in order; also during reorganisations). */
  'block:connected': [Block, BlockEntry]
  /** A block left the best chain (newest first). */
  'block:disconnected': [Block, BlockEntry]
  /** A transaction entered the mempool (from RPC, peers or a disconnected block), and who brought it (a peer id, 'rpc', 'wallet', 'mempool.dat', 'reorganisation'). */
  'tx:accepted': [MempoolEntry, string | undefined]
  /** Transactions left the mempool (mined, conflicted or evicted). */
  'tx:removed': [Tx[]]
  /** A block was validated (or refused), with its timings: for logs and metrics. */
  'block:processed': [BlockProcessed]
  /** A transaction was refused by the mempool (its TxError code). */
  'tx:refused': [TxRefused]
  /** A write failed (a full disk, an I/O error): the chain accepts nothing more, and its owner should shut down. */
  halt: [StoreError]
}

export type { Block, Coin, NetworkParams, Tx }
