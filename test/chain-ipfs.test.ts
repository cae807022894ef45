import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LevelBlockstore } from 'blockstore-level'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { mineBlocks, newKey, openChain } from './helpers/chain-harness.ts'

async function bytesOf (store: LevelBlockstore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of store.get(cid)) chunks.push(chunk)
  return Uint8Array.from(Buffer.concat(chunks))
}

test('blockstore-level over the chain database serves headers, transaction lists and transactions by CID', async t => {
  const { chain, ws } = await openChain(t)
  const [block] = await mineBlocks(chain, ws.clock, 1, newKey().addressHash)
  await chain.stop()
  const store = new LevelBlockstore(ws.dbPath())
  await store.open()
  t.after(async () => { await store.close() })
  // Walk the DAG as an IPFS tool would: header → transaction list → transaction, and back to the parent.
  const header = dagCbor.decode<{ prev: CID, txs: CID }>(await bytesOf(store, block.id))
  assert.deepEqual(await bytesOf(store, block.id), Uint8Array.from(block.header.bytes))
  const txids = dagCbor.decode<CID[]>(await bytesOf(store, header.txs))
  assert.deepEqual(txids.map(String), block.txs.map(tx => tx.idString))
  assert.deepEqual(await bytesOf(store, txids[0]), Uint8Array.from(block.txs[0].bytes))
  assert.ok(await store.has(header.prev), 'the parent (genesis) is there too')
})
