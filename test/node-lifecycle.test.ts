import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChainError } from '../src/chain/ports.ts'
import { CointsError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { addrOf, ownDatadir, startNode, tempDatadir, testNode, waitFor } from './helpers/node-harness.ts'

test('a node stopped while starting starts nothing more, and everything it started stops', async t => {
  const node = await testNode(t)
  const starting = node.start()
  const stopping = node.stop()
  await assert.rejects(starting, (err: unknown) => err instanceof CointsError && err.code === 'STOPPED_WHILE_STARTING')
  await stopping
  await node.stopped
  await assert.rejects(node.chain.processBlock(genesisBlock(node.params)), (err: unknown) => err instanceof ChainError && err.code === 'NOT_RUNNING')
  // The RPC server never listened (its port would be the one it got).
  assert.equal(node.rpc.port, 0)
})

/** How many timers and TCP handles keep this process's event loop alive, by kind. */
function liveHandles (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) if (kind === 'Timeout' || kind.startsWith('TCP')) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

test('two connected nodes, once stopped, leave no timer or socket behind to hold the process up (libp2p\'s stop left gossipsub\'s heartbeat and two 1 s debounces armed)', async t => {
  const before = liveHandles()
  const a = await startNode(t)
  const b = await startNode(t, { bootstrap: [addrOf(a)] })
  // Connected, and each has the other's gossip subscriptions: each side's timers are all under way.
  const subscribed = (node: typeof a, to: typeof a): boolean => node.p2p?.libp2p.services.pubsub.getSubscribers(node.p2p.gossip.topics.blocks).some(p => p.equals(to.p2p?.libp2p.peerId)) ?? false
  await waitFor(() => subscribed(a, b) && subscribed(b, a), 'the two nodes to see each other\'s subscriptions', 30_000)
  await b.stop()
  await a.stop()
  // Sockets finish closing in the loop's next turn; a timer left behind is still pending then (the leaks ran 1 s).
  await new Promise(resolve => setImmediate(resolve))
  assert.deepEqual(liveHandles(), before)
})

test('a start removes the temporary files that writes killed mid-way left in the datadir (a wallet seed each), also those named after its own process id (a container\'s node has the same one at every start)', async t => {
  const datadir = await tempDatadir(t)
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  const stale = [`wallet.json.${child.pid as number}.0123456789ab.tmp`, `wallet.json.${process.pid}.0123456789ab.tmp`]
  for (const name of stale) await writeFile(join(datadir, name), 'encrypted seed')
  const node = await testNode(t, { datadir, p2p: false })
  await node.start()
  const names = await readdir(datadir)
  for (const name of stale) assert.equal(names.includes(name), false, `${name} is removed`)
})

test('a start refused because another node holds the datadir removes none of that node\'s temporary files', async t => {
  const datadir = await tempDatadir(t)
  await startNode(t, { datadir, p2p: false })
  // As the running node's write of its wallet file would be named, under way.
  const live = `wallet.json.${process.pid}.0123456789ab.tmp`
  await writeFile(join(datadir, live), 'encrypted seed')
  await assert.rejects(startNode(t, { datadir, p2p: false }), (err: unknown) => err instanceof CointsError && err.code === 'DATADIR_IN_USE')
  assert.ok((await readdir(datadir)).includes(live))
})

test('building a node writes nothing and listens nowhere: its networking is built by then (its peer id known, libp2p stopped); the start writes the new key, which a restart keeps', async t => {
  // Not made yet: its nodes stop, and it is removed, after the test.
  const datadir = ownDatadir(t, join(tmpdir(), `coints-node-unmade-${process.pid}-${Date.now()}`))
  const node = await testNode(t, { datadir })
  const peerId = node.p2p?.libp2p.peerId.toString()
  assert.match(peerId ?? '', /^12D3/)
  assert.equal(node.p2p?.libp2p.status, 'stopped')
  assert.deepEqual(node.p2p?.libp2p.getMultiaddrs(), [])
  assert.equal(existsSync(datadir), false, 'no datadir yet')
  await node.start()
  assert.ok((await readdir(datadir)).includes('peer.key'))
  await node.stop()
  const again = await startNode(t, { datadir })
  assert.equal(again.p2p?.libp2p.peerId.toString(), peerId)
})

test('a node whose libp2p cannot listen fails its start in one line, and its stop stops everything it started', async t => {
  // Port 0 is not checked before the start: libp2p's own listen fails (no interface here has that address).
  const node = await testNode(t, { listen: ['/ip4/203.0.113.1/tcp/0'] })
  await assert.rejects(node.start(), (err: unknown) => err instanceof CointsError && err.code === 'BIND_FAILED' && /203\.0\.113\.1/.test(err.message))
  await node.stop()
  await node.stopped
  assert.equal(node.p2p?.libp2p.status, 'stopped')
  await assert.rejects(node.chain.processBlock(genesisBlock(node.params)), (err: unknown) => err instanceof ChainError && err.code === 'NOT_RUNNING')
})
