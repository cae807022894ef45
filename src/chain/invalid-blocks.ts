import { sha256 } from '../core/hash.ts'
import type { BlockIndex, IndexEntry } from './block-index.ts'
import { BlockStatus, blockstoreKeyOfDigest } from './records.ts'
import type { ChainStore } from './store.ts'

/** Valid blocks read at once while looking for the objects a dropped block shares. */
const SCAN_CHUNK = 256

/**
 * Removes blocks from the blockstore: each one's header (if still there), its
 * transaction list and its transactions, but those that a valid indexed block
 * names too (transactions are shared between branches, and stored once). The
 * store keeps no reference counts, so the valid blocks are searched, newest
 * first (shared objects sit mostly in recent blocks), until every candidate is
 * found shared or every block was read. Returns how many lists and
 * transactions went.
 */
export async function dropBlocks (store: ChainStore, index: BlockIndex, headers: Uint8Array[]): Promise<number> {
  if (headers.length === 0) return 0
  const candidates = new Set<string>()
  for (const { list, txs } of await store.bodyKeys(headers)) {
    candidates.add(list)
    for (const tx of txs) candidates.add(tx)
  }
  const valid = [...index.entries()].filter(e => e.status === BlockStatus.VALID).sort((a, b) => b.height - a.height)
  for (let at = 0; at < valid.length && candidates.size > 0; at += SCAN_CHUNK) {
    const chunk = valid.slice(at, at + SCAN_CHUNK).map(e => e.id)
    for (const { list, txs } of await store.bodyKeys(await store.getHeaders(chunk))) {
      candidates.delete(list)
      for (const tx of txs) candidates.delete(tx)
    }
  }
  const headerKeys = headers.map(header => blockstoreKeyOfDigest(sha256(header)))
  await store.deleteBlocks([...headerKeys, ...candidates])
  return candidates.size
}

/** The transaction lists and transactions of blocks marked invalid (their headers kept aside), but those valid blocks share. */
export async function dropInvalidBodies (store: ChainStore, index: BlockIndex, invalid: IndexEntry[]): Promise<number> {
  const headers: Uint8Array[] = []
  for (const entry of invalid) {
    const header = await store.getInvalidHeader(entry.id)
    if (header !== undefined) headers.push(header)
  }
  return await dropBlocks(store, index, headers)
}
