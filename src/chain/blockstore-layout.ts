import type { Logger } from '../log.ts'
import { StoreError } from './records.ts'
import type { ChainStore } from './store.ts'

/**
 * The layout a database's meta "layout" names: 2, the IPLD blocks in a
 * sublevel of their own (b) and invalid blocks' headers beside the index (x).
 * Datadirs made before have no such record: their blocks sit at the root,
 * among the other records, invalid ones with them.
 */
export const STORE_LAYOUT = 2

export interface MoveOptions {
  /** Objects moved per atomic batch (default 1,000; a batch also stops at 4 MB). */
  batchObjects?: number
  /** Called after each batch with the objects moved so far (tests kill the process there). */
  onBatch?: (moved: number) => void
}

/** The database's layout, refusing one made by a newer release (this one would not find its blocks). */
export async function readLayout (store: ChainStore): Promise<number | undefined> {
  const value = await store.getMeta('layout')
  if (value === undefined) return undefined
  if (value.length !== 1) throw new StoreError('CORRUPT_META', 'layout record of the wrong size')
  if (value[0] > STORE_LAYOUT) throw new StoreError('NEWER_LAYOUT', `the chain database at ${store.path} has layout ${value[0]}, made by a newer release of coints than this one (layout ${STORE_LAYOUT}): run that release, or start with another --datadir`)
  return value[0]
}

/**
 * Moves the IPLD blocks a datadir made before kept at its root into the
 * blockstore, in atomic batches that copy and delete together, logging its
 * progress. Restartable at any point: a kill leaves each block in one place or
 * the other, and the next start moves what is left (it runs whenever root
 * blocks are found, so a batch a power cut lost is moved then too). Returns how
 * many objects moved.
 */
export async function moveRootBlocks (store: ChainStore, log: Logger, opts: MoveOptions = {}): Promise<number> {
  if (await store.countRootBlocks(1) === 0) return 0
  const started = Date.now()
  const total = await store.countRootBlocks()
  log.info(`blockstore: moving ${total.toLocaleString('en-US')} stored objects (headers, transaction lists, transactions) into a keyspace of their own; an interrupted move goes on at the next start`)
  let moved = 0
  let last: string | undefined
  let reported = 0
  for (;;) {
    const batch = await store.moveRootBlocks(last, opts.batchObjects ?? 1_000)
    if (batch.moved === 0) break
    moved += batch.moved
    last = batch.last
    opts.onBatch?.(moved)
    const tenth = Math.floor(moved * 10 / total)
    if (tenth > reported && moved < total) {
      reported = tenth
      log.info(`blockstore: ${moved.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} objects moved (${Math.floor(moved * 100 / total)}%)`)
    }
  }
  await store.compactRootBlocks()
  log.info(`blockstore: ${moved.toLocaleString('en-US')} objects moved in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return moved
}
