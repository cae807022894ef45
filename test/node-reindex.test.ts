import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { StoreError } from '../src/chain/records.ts'
import { addrOf, newKey, rpc, startNode, waitForSameTip } from './helpers/node-harness.ts'

test('a node whose database has a flipped byte in a table is refused at start; with --reindex it rebuilds from its blocks and syncs the dropped ones from a peer, back to the same tip and UTXO set', async t => {
  const datadir = await mkdtemp(join(tmpdir(), 'coints-node-'))
  t.after(async () => { await rm(datadir, { recursive: true, force: true }) })
  const { address } = newKey()
  const first = await startNode(t, { datadir, p2p: false })
  await rpc(first, 'generate', [120, address])
  await first.stop()
  // A restart turns LevelDB's log into a table; more blocks, then another restart, another table.
  const second = await startNode(t, { datadir, p2p: false })
  await rpc(second, 'generate', [40, address])
  await second.stop()
  const summary = await (async () => {
    const third = await startNode(t, { datadir, p2p: false })
    const s = await rpc(third, 'gettxoutsetinfo')
    await third.stop()
    return s
  })()

  // The peer holds the same chain: it imports this node's blocks.
  const peer = await startNode(t, { mine: false })
  const source = await startNode(t, { datadir, bootstrap: [addrOf(peer)] })
  await waitForSameTip([peer, source], 160)
  await source.stop()

  // Damage: a flipped byte in the middle of the largest table.
  const db = join(datadir, 'chain')
  const tables = (await readdir(db)).filter(n => n.endsWith('.ldb'))
  const sizes = await Promise.all(tables.map(async n => (await stat(join(db, n))).size))
  const largest = join(db, tables[sizes.indexOf(Math.max(...sizes))])
  const bytes = await readFile(largest)
  bytes[bytes.length >> 1] ^= 0x01
  await writeFile(largest, bytes)

  await assert.rejects(startNode(t, { datadir, p2p: false }), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_DB' && /fails its checksum; start with --reindex/.test(err.message))
  const repaired = await startNode(t, { datadir, reindex: true, bootstrap: [addrOf(peer)] })
  await waitForSameTip([peer, repaired], 160)
  assert.deepEqual(await rpc(repaired, 'gettxoutsetinfo'), summary)
  assert.equal((await rpc(repaired, 'verifychain')).ok, true)
})
