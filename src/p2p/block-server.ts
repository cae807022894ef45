import type { CID } from '../core/cbor.ts'
import type { ChainReader } from '../chain/ports.ts'
import type { BlockEntry } from '../chain/types.ts'
import { BLOCKS_REPLY_BYTES } from './sync-messages.ts'

/** What serving peers reads of the chain: the best chain, and blocks and headers as stored. */
export type ServedChain = Pick<ChainReader, 'tip' | 'blockInfo' | 'getEntryAt' | 'getBlocksWire' | 'getHeadersWire'>

/** Blocks a server reads at once for a reply. */
const SERVE_READ_AHEAD = 16

/**
 * Ids of best-chain blocks after the fork point a peer's locator gives (its
 * first id on our best chain; genesis when none is), at most `max`.
 */
export function idsAfterLocator (chain: ServedChain, locator: string[], max: number): CID[] {
  let fork = 0
  for (const id of locator) {
    const info = chain.blockInfo(id)
    if (info?.validity === 'active') {
      fork = info.entry.height
      break
    }
  }
  const ids: CID[] = []
  for (let h = fork + 1; h <= chain.tip.height && ids.length < max; h++) ids.push((chain.getEntryAt(h) as BlockEntry).id)
  return ids
}

/** A headers reply: the headers of what follows the peer's locator on our best chain, at most `max`. */
export async function headersAfterLocator (chain: ServedChain, locator: string[], max: number): Promise<Uint8Array[]> {
  return await chain.getHeadersWire(idsAfterLocator(chain, locator, max))
}

/**
 * A blocks reply: the blocks asked for, read a few at a time, until the reply
 * holds BLOCKS_REPLY_BYTES or a block is not ours to serve (not stored, or
 * not valid).
 */
export async function servedBlocks (chain: ServedChain, ids: CID[]): Promise<Uint8Array[]> {
  const blocks: Uint8Array[] = []
  let bytes = 0
  for (let at = 0; at < ids.length; at += SERVE_READ_AHEAD) {
    const group = ids.slice(at, at + SERVE_READ_AHEAD)
    const read = await chain.getBlocksWire(group)
    for (const block of read) {
      blocks.push(block)
      bytes += block.length
      if (bytes >= BLOCKS_REPLY_BYTES) return blocks
    }
    if (read.length < group.length) break
  }
  return blocks
}
