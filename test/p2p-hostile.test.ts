import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { Block } from '../src/core/block.ts'
import { genesisBlock } from '../src/core/params.ts'
import type { Tx } from '../src/core/tx.ts'
import { gossipMessageId, gossipTopics } from '../src/p2p/chain-gossip.ts'
import type { CointsNode } from '../src/node/node.ts'
import { SCORE_THRESHOLDS, type CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { decodeBlocksRequest, decodeHeadersRequest, encodeBlocksResponse, encodeHeadersResponse, encodeStatus } from '../src/p2p/sync-messages.ts'
import { MAX_LOW_WORK_HEADERS } from '../src/p2p/sync-service.ts'
import { join } from 'node:path'
import type { BlockEntry } from '../src/chain/types.ts'
import { addrOf, newKey, regtest, rpc, startLibp2p, startNode, waitFor, waitForSameTip } from './helpers/node-harness.ts'
import { BranchBuilder, mineBlockOn, mineBlocks, openChain, phantomSpends, storedBytes, testChain } from './helpers/chain-harness.ts'

const topics = gossipTopics(regtest)
const prefix = `/coints/${regtest.name}/${genesisBlock(regtest).idString}`

/** A libp2p peer speaking our protocols, driven by the test to misbehave. */
async function hostilePeer (t: TestContext): Promise<CointsLibp2p> {
  const node = await startLibp2p(t, { topics: [topics.blocks, topics.txs], messageId: (topic, data) => gossipMessageId(topics, topic, data) })
  node.services.pubsub.subscribe(topics.blocks)
  node.services.pubsub.subscribe(topics.txs)
  return node
}

/** Dials `node` from `hostile` and waits until each sees the other's block subscription; returns the hostile peer's id. */
async function joinGossip (hostile: CointsLibp2p, node: CointsNode): Promise<string> {
  await hostile.dial(multiaddr(addrOf(node)))
  const hostileId = hostile.peerId.toString()
  await waitFor(() => node.p2p?.libp2p.services.pubsub.getSubscribers(topics.blocks).some(p => p.toString() === hostileId), 'the node to see the hostile subscription')
  await waitFor(() => hostile.services.pubsub.getSubscribers(topics.blocks).length > 0, 'the hostile peer to see a subscriber')
  return hostileId
}

/** A hostile peer connected to `node`, each seeing the other's block subscription. */
async function hostileOn (t: TestContext, node: CointsNode): Promise<{ hostile: CointsLibp2p, hostileId: string }> {
  const hostile = await hostilePeer(t)
  return { hostile, hostileId: await joinGossip(hostile, node) }
}

/** Answers every request on one of our sync protocols with `reply`. */
function serve (node: CointsLibp2p, protocol: string, reply: (request: Uint8Array) => Uint8Array): void {
  void node.handle(`${prefix}/${protocol}/1.0.0`, async stream => {
    const lp = lpStream(stream)
    const request = await lp.read()
    await lp.write(reply(request.subarray()))
    await stream.close()
  })
}

test('a peer gossiping garbage and invalid blocks is rejected and banned while honest nodes carry on', async t => {
  const key = newKey()
  const honest = await startNode(t, { minerAddress: key.address })
  const other = await startNode(t, { bootstrap: [addrOf(honest)], minerAddress: key.address })
  await rpc(honest, 'generate', [2])
  await waitForSameTip([honest, other], 2)

  const { hostile, hostileId } = await hostileOn(t, honest)

  // An invalid block: valid proof of work on the tip, but a coinbase paying more than the subsidy.
  const invalid = mineBlockOn(honest.chain, honest.chain.tip, { coinbaseOutputs: [{ amount: regtest.initialSubsidy + 1n, address: key.addressHash }] })
  await hostile.services.pubsub.publish(topics.blocks, invalid.encode())
  await hostile.services.pubsub.publish(topics.blocks, randomBytes(200))
  await hostile.services.pubsub.publish(topics.txs, randomBytes(120))

  await waitFor(() => honest.p2p?.bans.isBanned(hostileId), 'the hostile peer to be banned')
  await waitFor(() => !honest.p2p?.libp2p.getPeers().some(p => p.toString() === hostileId), 'the hostile peer to be disconnected')
  assert.equal(honest.chain.getEntry(invalid.idString), undefined)
  assert.equal(other.chain.hasBlock(invalid.idString), false, 'an invalid block is not forwarded')
  assert.equal(honest.chain.height, 2)
  // A banned peer that dials again is refused by the connection gater.
  await hostile.dial(multiaddr(addrOf(honest))).catch(() => {})
  await waitFor(() => !hostile.getPeers().some(p => p.toString() === honest.p2p?.libp2p.peerId.toString()), 'the banned peer\'s new connection to be refused')
  assert.equal(honest.p2p?.libp2p.getPeers().some(p => p.toString() === hostileId), false)

  // The honest pair keeps working.
  await rpc(other, 'generate', [1])
  await waitForSameTip([honest, other], 3)
})

test('a sync peer that claims more work and answers garbage is penalised and dropped', async t => {
  const hostile = await hostilePeer(t)
  const hostileId = hostile.peerId.toString()
  const claim = encodeStatus({ genesis: genesisBlock(regtest).id, tip: genesisBlock(regtest).id, height: 1_000_000, chainwork: 1n << 200n })
  await hostile.handle(`${prefix}/status/1.0.0`, async stream => {
    const lp = lpStream(stream)
    await lp.read()
    await lp.write(claim)
    await stream.close()
  })
  await hostile.handle(`${prefix}/headers/1.0.0`, async stream => {
    const lp = lpStream(stream)
    await lp.read()
    await lp.write(randomBytes(64))
    await stream.close()
  })
  const node = await startNode(t, { bootstrap: [hostile.getMultiaddrs()[0].toString()], statusIntervalMs: 200 })
  await waitFor(() => node.p2p?.bans.isBanned(hostileId), 'the lying peer to be banned', 20_000)
  assert.equal(node.chain.height, 0)
})

test('a copy of a new block with its header and altered transactions does not shut the genuine block out of gossip', async t => {
  const key = newKey()
  // Status polls out of the way: the genuine block can reach `target` only by gossip.
  const target = await startNode(t, { minerAddress: key.address, statusIntervalMs: 600_000 })
  const source = await startNode(t, { bootstrap: [addrOf(target)], minerAddress: key.address, statusIntervalMs: 600_000 })
  await rpc(target, 'generate', [1])
  await waitForSameTip([target, source], 1)

  const { hostile, hostileId } = await hostileOn(t, target)

  // Copies with the genuine header, each with an extra transaction: each is judged on its own (the first already bans its sender).
  const genuine = mineBlockOn(target.chain, target.chain.tip)
  for (let extra = 1; extra <= 3; extra++) {
    const tampered = new Block(genuine.header, [...genuine.txs, ...Array<Tx>(extra).fill(genuine.txs[0])])
    await hostile.services.pubsub.publish(topics.blocks, tampered.encode())
  }
  await waitFor(() => target.p2p?.bans.isBanned(hostileId), 'every tampered copy to be rejected', 10_000)

  await rpc(source, 'submitblock', [Buffer.from(genuine.encode()).toString('hex')])
  await waitFor(() => target.chain.tip.idString === genuine.idString, 'the genuine block to reach the target by gossip', 10_000)
})

test('a peer whose blocks are too new for our clock is not punished by sync', async t => {
  const key = newKey()
  // Three hours ahead: its blocks are over the two hours' limit for us, within it for itself.
  const ahead = await startNode(t, { minerAddress: key.address, clockOffset: 3 * 60 * 60 })
  await rpc(ahead, 'generate', [1])
  const node = await startNode(t, { bootstrap: [addrOf(ahead)], statusIntervalMs: 200 })
  const aheadId = ahead.p2p?.libp2p.peerId.toString() ?? ''
  await waitFor(() => node.p2p?.sync.peerState(aheadId)?.disappointedAt, 'a sync from the peer ahead to fail')
  assert.equal(node.p2p?.bans.isBanned(aheadId), false)
  assert.equal(node.chain.height, 0)
})

test('a sync peer that serves one block at a time, holding back the rest of a reply, is banned for withholding', async t => {
  // A real chain of 3 blocks, served by hand: status and headers true, every blocks reply cut to its first block.
  const { chain, ws } = await openChain(t)
  const blocks = await mineBlocks(chain, ws.clock, 3, newKey().addressHash)
  const hostile = await hostilePeer(t)
  const hostileId = hostile.peerId.toString()
  const status = encodeStatus({ genesis: genesisBlock(regtest).id, tip: chain.tip.id, height: chain.height, chainwork: chain.tip.chainwork })
  serve(hostile, 'status', () => status)
  serve(hostile, 'headers', () => encodeHeadersResponse(blocks.map(b => b.header.bytes)))
  serve(hostile, 'blocks', request => {
    const [first] = decodeBlocksRequest(request)
    return encodeBlocksResponse(blocks.filter(b => b.id.equals(first)).map(b => b.encode()))
  })
  const node = await startNode(t, { bootstrap: [hostile.getMultiaddrs()[0].toString()], statusIntervalMs: 200 })
  await waitFor(() => node.p2p?.bans.isBanned(hostileId), 'the withholding peer to be banned', 10_000)
  assert.ok(node.chain.height < 3)
})

/** Resolves after `count` gossipsub heartbeats of `node`: scores are recomputed at each. */
async function heartbeats (node: CointsNode, count: number): Promise<void> {
  const pubsub = node.p2p?.libp2p.services.pubsub
  if (pubsub === undefined) throw new Error('p2p is off')
  let seen = 0
  await new Promise<void>(resolve => {
    const beat = (): void => {
      if (++seen < count) return
      pubsub.removeEventListener('gossipsub:heartbeat', beat)
      resolve()
    }
    pubsub.addEventListener('gossipsub:heartbeat', beat)
  })
}

/** The gossipsub score `node` gives `peer` (GossipSub's class has getScore; the interface it is exported as does not declare it). */
function scoreOf (node: CointsNode, peer: string): number {
  const pubsub: unknown = node.p2p?.libp2p.services.pubsub
  if (typeof pubsub !== 'object' || pubsub === null || !('getScore' in pubsub) || typeof pubsub.getScore !== 'function') throw new Error('gossipsub has no getScore')
  const score: unknown = pubsub.getScore(peer)
  if (typeof score !== 'number') throw new Error('gossipsub\'s getScore gave no number')
  return score
}

test('a peer gossiping invalid blocks one at a time is banned and hung up on, not left connected and muted by gossipsub', async t => {
  const key = newKey()
  const node = await startNode(t, { minerAddress: key.address })
  const { hostile, hostileId } = await hostileOn(t, node)
  for (let extra = 1n; extra <= 3n && node.p2p?.bans.isBanned(hostileId) !== true; extra++) {
    const invalid = mineBlockOn(node.chain, node.chain.tip, { coinbaseOutputs: [{ amount: regtest.initialSubsidy + extra, address: key.addressHash }] })
    await hostile.services.pubsub.publish(topics.blocks, invalid.encode())
    // Gossipsub recomputes the sender's score before the next one (it used to graylist it here, and the rest went unread).
    await heartbeats(node, 2)
  }
  await waitFor(() => node.p2p?.bans.isBanned(hostileId) === true && !node.p2p.libp2p.getPeers().some(p => p.toString() === hostileId), 'the hostile peer to be banned and hung up on', 10_000)
})

test('gossipsub scores a peer by our offences: light ones lower its score but never to the graylist, so it is still heard, until the ban', async t => {
  const node = await startNode(t, { minerAddress: newKey().address })
  const { hostile, hostileId } = await hostileOn(t, node)
  // Two of the three light offences that ban (a sync timeout weighs one).
  node.p2p?.peers.penalise(hostileId, 'a timeout', 1)
  node.p2p?.peers.penalise(hostileId, 'a timeout', 1)
  await heartbeats(node, 2)
  const score = scoreOf(node, hostileId)
  assert.ok(score < 0, `score ${score} reflects the offences`)
  assert.ok(score >= SCORE_THRESHOLDS.graylistThreshold, `score ${score} is not graylisted`)
  const valid = mineBlockOn(node.chain, node.chain.tip)
  await hostile.services.pubsub.publish(topics.blocks, valid.encode())
  await waitFor(() => node.chain.tip.idString === valid.idString, 'a valid block from the penalised peer to be heard')
  // The third bans, and the ban (not gossipsub) hangs up.
  node.p2p?.peers.penalise(hostileId, 'a timeout', 1)
  assert.equal(node.p2p?.bans.isBanned(hostileId), true)
  await waitFor(() => !node.p2p?.libp2p.getPeers().some(p => p.toString() === hostileId), 'the banned peer to be hung up on')
})

test('side-branch blocks from genesis full of spends of coins that do not exist are neither stored nor relayed; the peer claiming work it lacks is banned; nothing is there after a restart', async t => {
  const key = newKey()
  const target = await startNode(t, { minerAddress: key.address, statusIntervalMs: 200 })
  // Status polls out of the way: what reaches `second` comes by gossip.
  const second = await startNode(t, { bootstrap: [addrOf(target)], statusIntervalMs: 600_000 })
  await rpc(target, 'generate', [10])
  await waitForSameTip([target, second], 10)

  // Six blocks of ~150 kB forking from genesis: valid headers and well-formed transactions, less work than the tip.
  const builder = BranchBuilder.on(target.chain, target.chain.getEntryAt(0) as BlockEntry)
  const junk = Array.from({ length: 6 }, () => builder.next({ txs: phantomSpends(target.chain, 50, 100) }))
  const junkBytes = junk.reduce((n, b) => n + b.size, 0)
  const junkWork = target.chain.getEntryAt(6)?.chainwork as bigint
  // The attacker serves its branch to sync as well, claiming at first the work it has, later more than the target's.
  let lying = false
  let claims = 0n
  const hostile = await hostilePeer(t)
  const hostileId = hostile.peerId.toString()
  serve(hostile, 'status', () => encodeStatus({ genesis: genesisBlock(regtest).id, tip: junk[5].id, height: 6, chainwork: lying ? target.chain.tip.chainwork + ++claims : junkWork }))
  serve(hostile, 'headers', () => encodeHeadersResponse(junk.map(b => b.header.bytes)))
  serve(hostile, 'blocks', request => {
    const ids = decodeBlocksRequest(request)
    return encodeBlocksResponse(junk.filter(b => ids.some(id => id.equals(b.id))).map(b => b.encode()))
  })
  const before = { target: await storedBytes(target.store), second: await storedBytes(second.store) }
  await joinGossip(hostile, target)

  // Then a valid block on the tip: once `second` has it by gossip, the target has judged and forwarded (or not) all before it.
  const sentinel = mineBlockOn(target.chain, target.chain.tip)
  for (const block of [...junk, sentinel]) await hostile.services.pubsub.publish(topics.blocks, block.encode())
  await waitFor(() => second.chain.tip.idString === sentinel.idString, 'the valid block to reach the second node by gossip', 20_000)

  const assertNothingStored = async (): Promise<void> => {
    for (const node of [target, second]) {
      for (const block of junk) assert.equal(await node.store.getRaw(block.id), undefined, `junk block ${block.height} is not stored`)
    }
    const grown = { target: await storedBytes(target.store) - before.target, second: await storedBytes(second.store) - before.second }
    t.diagnostic(`${junk.length} junk blocks (${junkBytes} bytes) grew the target's database by ${grown.target} bytes, the second node's by ${grown.second} (a valid block of ${sentinel.size} bytes included)`)
    assert.ok(grown.target < 10_000 && grown.second < 10_000, `databases grew by ${grown.target} and ${grown.second} bytes`)
  }
  await assertNothingStored()
  assert.equal(target.p2p?.bans.isBanned(hostileId), false, 'side blocks and a true status are no offence')

  // Claiming more work than its headers carry is: each claim a sync finds false counts, and they add up to a ban.
  lying = true
  await waitFor(() => target.p2p?.bans.isBanned(hostileId), 'the peer claiming work its headers do not carry to be banned', 20_000)
  await assertNothingStored()
  assert.equal(target.chain.tip.idString, sentinel.idString)

  await target.stop()
  const restarted = testChain({ params: regtest, dbPath: join(target.options.datadir, 'chain'), verifierThreads: 1 })
  await restarted.start()
  try {
    assert.equal(restarted.tip.idString, sentinel.idString)
    for (const block of junk) {
      assert.equal(restarted.hasBlock(block.idString), false)
      assert.equal(await restarted.store.getRaw(block.id), undefined)
    }
  } finally {
    await restarted.stop()
  }
})

test('a block on the tip with valid work and invalid contents is answered as invalid by getblock and getblockheader, and never served', async t => {
  const key = newKey()
  const target = await startNode(t, { minerAddress: key.address })
  await rpc(target, 'generate', [3])
  const { hostile, hostileId } = await hostileOn(t, target)

  const invalid = mineBlockOn(target.chain, target.chain.tip, { txs: phantomSpends(target.chain, 5, 10) })
  await hostile.services.pubsub.publish(topics.blocks, invalid.encode())
  // Its sender is banned once the block is judged.
  await waitFor(() => target.p2p?.bans.isBanned(hostileId), 'the invalid block to be judged')

  const block = await rpc(target, 'getblock', [invalid.idString])
  assert.equal(block.status, 'invalid')
  assert.equal(block.confirmations, -1)
  assert.equal(block.height, 4)
  assert.equal(block.txs, undefined, 'its transactions are not answered')
  const header = await rpc(target, 'getblockheader', [invalid.idString])
  assert.deepEqual([header.status, header.confirmations, header.hash, header.nextblockhash, header.nTx], ['invalid', -1, invalid.idString, undefined, undefined])
  assert.equal(await rpc(target, 'getblockheader', [invalid.idString, false]), Buffer.from(invalid.header.bytes).toString('hex'))
  assert.equal(await target.store.getRaw(invalid.txs[1].id), undefined, 'its transactions are not stored')
  assert.deepEqual(await target.chain.getBlocksWire([invalid.id]), [])
  assert.equal(target.chain.height, 3)

  // The best chain and a side block, for comparison.
  const tip = await rpc(target, 'getblock', [target.chain.tip.idString])
  assert.deepEqual([tip.status, tip.confirmations, tip.nextblockhash], ['active', 1, undefined])
  const first = await rpc(target, 'getblockheader', [target.chain.getEntryAt(1)?.idString ?? assert.fail('no block 1')])
  assert.deepEqual([first.status, first.confirmations, first.nextblockhash], ['active', 3, target.chain.getEntryAt(2)?.idString])
  const side = mineBlockOn(target.chain, target.chain.getEntryAt(2) as BlockEntry)
  await rpc(target, 'submitblock', [Buffer.from(side.encode()).toString('hex')])
  const sideView = await rpc(target, 'getblock', [side.idString])
  assert.deepEqual([sideView.status, sideView.confirmations, sideView.txs?.length], ['valid-fork', -1, 1])
})

test('a heavier fork 100 blocks deep reorganises both nodes, and its next block is relayed', async t => {
  const key = newKey()
  const target = await startNode(t, { minerAddress: key.address })
  const second = await startNode(t, { bootstrap: [addrOf(target)] })
  // Mined apart, never connected until now: 100 blocks against 105 from genesis.
  const fork = await startNode(t, { minerAddress: newKey().address })
  await rpc(target, 'generate', [100])
  await rpc(fork, 'generate', [105])
  await waitForSameTip([target, second], 100)

  await rpc(fork, 'addnode', [addrOf(target)])
  const heavier = await waitForSameTip([target, second, fork], 105, 60_000)
  assert.equal(heavier, fork.chain.tip.idString)
  for (const node of [target, second]) {
    const stats = await rpc(node, 'getchainstats')
    assert.equal(stats.maxreorgdepth, 100)
  }
  await rpc(fork, 'generate', [1])
  await waitForSameTip([target, second, fork], 106)
  for (const node of [target, second, fork]) assert.equal((await rpc(node, 'verifychain')).ok, true)
})

test('a peer serving ever more headers of a branch with less work than the tip, claiming more, has its sync ended after MAX_LOW_WORK_HEADERS of them, with an offence, and is asked for no block', async t => {
  const target = await startNode(t, { minerAddress: newKey().address, statusIntervalMs: 200 })
  await rpc(target, 'generate', [MAX_LOW_WORK_HEADERS + 10])
  // A branch from genesis longer than the bound, every header valid, all of it below the tip's work.
  const branch = BranchBuilder.on(target.chain, target.chain.getEntryAt(0) as BlockEntry).extend(MAX_LOW_WORK_HEADERS + 500)
  const ids = branch.map(b => b.idString)
  const hostile = await hostilePeer(t)
  const hostileId = hostile.peerId.toString()
  serve(hostile, 'status', () => encodeStatus({ genesis: genesisBlock(regtest).id, tip: branch[branch.length - 1].id, height: branch.length, chainwork: target.chain.tip.chainwork + 1n }))
  // Each request continues after the branch's header its locator names; one naming none begins a sync.
  let syncs = 0
  let served = 0
  serve(hostile, 'headers', request => {
    const { locator, max } = decodeHeadersRequest(request)
    const from = Math.max(-1, ...locator.map(id => ids.indexOf(id.toString()))) + 1
    if (from === 0) syncs++
    const headers = branch.slice(from, from + max).map(b => b.header.bytes)
    served += headers.length
    return encodeHeadersResponse(headers)
  })
  let blockRequests = 0
  serve(hostile, 'blocks', () => { blockRequests++; return encodeBlocksResponse([]) })
  await hostile.dial(multiaddr(addrOf(target)))
  await waitFor(() => (target.p2p?.bans.offenceLevel(hostileId) ?? 0) > 0, 'the sync with the peer feeding low-work headers to end with an offence', 60_000)
  assert.equal(syncs, 1)
  assert.equal(served, MAX_LOW_WORK_HEADERS, 'the sync took no headers past the bound')
  assert.equal(blockRequests, 0)
  assert.equal(target.chain.height, MAX_LOW_WORK_HEADERS + 10)
})
