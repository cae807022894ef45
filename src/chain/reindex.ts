import type { Block, Header } from '../core/block.ts'
import { BlockError } from '../core/errors.ts'
import type { Logger } from '../log.ts'
import { StoreError } from './records.ts'
import { REMEDY, type ChainStore } from './store.ts'

export interface RebuildParts {
  store: ChainStore
  log: Logger
  /** Validates, stores and connects a block as if it had just arrived: the chain's own path. */
  process: (block: Block) => Promise<unknown>
  /** Whether a block is in the index again. */
  indexed: (id: string) => boolean
}

const PROGRESS_MS = 2_000

export interface Rebuilt {
  connected: number
  dropped: number
  /** Stored headers that are not in the index again (damaged, invalid, or built on such), for the blockstore to drop. */
  unindexed: Header[]
  /** Blockstore keys of stored headers that do not hash to their key. */
  damaged: string[]
}

/**
 * Bitcoin Core's -reindex: rebuilds the block index, UTXO set and undo data
 * from the stored blocks (the chain state was cleared, genesis written again).
 * Every stored header is read, then its block is validated and connected in
 * height order, each on its parent. A block that is damaged (or lost with a
 * table set aside) is dropped with everything built on it: those are synced
 * again from peers.
 */
export async function rebuildFromBlocks ({ store, log, process, indexed }: RebuildParts): Promise<Rebuilt> {
  const headers: Header[] = []
  const damaged: string[] = []
  let dropped = 0
  for await (const header of store.headers()) {
    if ('damaged' in header) {
      log.warn(`reindex: the stored header ${header.damaged} does not hash to its key: dropped`)
      damaged.push(header.damaged)
      dropped++
    } else {
      headers.push(header)
    }
  }
  headers.sort((a, b) => a.data.height - b.data.height)
  log.info(`reindex: ${headers.length} stored headers; rebuilding the block index, UTXO set and undo data`)
  let connected = 0
  let reported = Date.now()
  for (let n = 0; n < headers.length; n++) {
    const header = headers[n]
    const { height, prev } = header.data
    if (prev === null || indexed(header.idString)) continue
    if (!indexed(prev.toString())) {
      dropped++
      continue
    }
    let block: Block | undefined
    try {
      block = await store.getBlock(header.id)
      if (block === undefined) throw new StoreError('CORRUPT_BLOCK', 'not stored')
    } catch (err) {
      if (!(err instanceof StoreError) || !err.code.startsWith('CORRUPT_')) throw err
      log.warn(`reindex: block ${height} (${header.idString}) is damaged (${err.message.replace(`; ${REMEDY}`, '')}): dropped with the blocks built on it; they are synced again from peers`)
      dropped++
      continue
    }
    try {
      await process(block)
      connected++
    } catch (err) {
      if (!(err instanceof BlockError)) throw err
      log.warn(`reindex: block ${height} (${header.idString}) is invalid: ${err.message}`)
    }
    if (Date.now() - reported > PROGRESS_MS) {
      reported = Date.now()
      log.info(`reindex: ${n + 1} of ${headers.length} blocks read, height ${height}`)
    }
  }
  return { connected, dropped, unindexed: headers.filter(h => !indexed(h.idString)), damaged }
}
