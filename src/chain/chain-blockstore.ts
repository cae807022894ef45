import * as dagCbor from '@ipld/dag-cbor'
import { LevelBlockstore } from 'blockstore-level'
import type { InputPair, Pair } from 'interface-blockstore'
import type { Level } from 'level'
import { CID } from 'multiformats/cid'
import { StoreError } from './records.ts'

/** The blockstore's sublevel of the chain database: blockstore-level's keys ("/B" and the multihash in base32) and the blocks' bytes. */
export function blocksSublevel (db: Level<string, Uint8Array>) {
  return db.sublevel<string, Uint8Array>('b', { keyEncoding: 'utf8', valueEncoding: 'view' })
}

type BlocksLevel = ReturnType<typeof blocksSublevel>

/**
 * The chain's blocks as an interface-blockstore Blockstore, for IPFS users
 * (Helia, bitswap, a gateway): blockstore-level's LevelBlockstore over the
 * sublevel holding the IPLD blocks of the stored blocks not found invalid, and
 * nothing else. Reads are the library's; getAll gives the blocks' own CIDs
 * (dag-cbor: the store keeps multihashes, so the library's say raw).
 *
 * The chain alone writes here: blocks enter through validation and leave when
 * found invalid. So `put` is refused (READ_ONLY), and so is deleting a block
 * the chain holds (CHAIN_BLOCK, as Helia refuses to delete a pinned block):
 * every block here is one the chain needs, to serve, reorganise and reindex.
 * Helia's garbage collection, which deletes every unpinned block one by one,
 * stops at the first with that error, having deleted nothing. The chain opens
 * and closes the database.
 */
export class ChainBlockstore extends LevelBlockstore {
  constructor (blocks: BlocksLevel) {
    // LevelBlockstore takes a Level; it uses only what a sublevel has (get, put, del, iterator).
    super(blocks as unknown as Level<string, Uint8Array>)
  }

  override async open (): Promise<void> {}

  override async close (): Promise<void> {}

  override async put (key: CID): Promise<CID> {
    throw readOnly(key)
  }

  override async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>): AsyncGenerator<CID> {
    for await (const { cid } of source) throw readOnly(cid)
  }

  override async delete (key: CID, options?: { signal?: AbortSignal }): Promise<void> {
    if (await this.has(key, options)) throw chainBlock(key)
  }

  override async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: { signal?: AbortSignal }): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  override async * getAll (options?: { signal?: AbortSignal }): AsyncGenerator<Pair> {
    for await (const { cid, bytes } of super.getAll(options)) yield { cid: CID.createV1(dagCbor.code, cid.multihash), bytes }
  }
}

function chainBlock (cid: CID): StoreError {
  return new StoreError('CHAIN_BLOCK', `${cid.toString()} is a block of the chain, which removes its blocks itself (those found invalid)`)
}

function readOnly (cid: CID): StoreError {
  return new StoreError('READ_ONLY', `cannot put ${cid.toString()}: blocks enter the chain's blockstore only through the chain's validation (submitblock, sync, gossip)`)
}
