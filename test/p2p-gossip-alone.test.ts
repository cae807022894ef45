/**
 * ChainGossip alone, against a chain held in memory behind the chain's ports
 * (no Chain, no LevelDB): what it answers gossipsub and whom it penalises for
 * each kind of block and transaction a peer sends.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BAN_WEIGHT, BlockError, TxError } from '../src/core/errors.ts'
import { StoreError } from '../src/chain/records.ts'
import type { MempoolEntry } from '../src/chain/types.ts'
import { createLogger } from '../src/log.ts'
import { ChainGossip } from '../src/p2p/chain-gossip.ts'
import type { GossipTransport, GossipVerdict } from '../src/p2p/transport.ts'
import { FakeChain } from './helpers/fake-chain.ts'
import { newKey, spendTx } from './helpers/chain-harness.ts'
import { cidOf } from '../src/core/cbor.ts'

interface Penalty { peer: string, weight: number }

function gossipOver (chain: FakeChain, pooled = new Set<string>()): { gossip: ChainGossip, penalties: Penalty[], orphansFrom: string[], validators: Map<string, (data: Uint8Array, from: string) => Promise<GossipVerdict>> } {
  const penalties: Penalty[] = []
  const orphansFrom: string[] = []
  const validators = new Map<string, (data: Uint8Array, from: string) => Promise<GossipVerdict>>()
  const transport: GossipTransport = {
    subscribe: (topic, validate) => { validators.set(topic, validate) },
    unsubscribe: topic => { validators.delete(topic) },
    publish: async () => {}
  }
  const gossip = new ChainGossip({
    chain,
    mempool: { has: id => pooled.has(id) },
    transport,
    peers: { penalise: (peer, _reason, weight = 1) => { penalties.push({ peer, weight }) } },
    logger: createLogger('test'),
    onOrphan: peer => { orphansFrom.push(peer) }
  })
  return { gossip, penalties, orphansFrom, validators }
}

test('gossip alone: a block that connects is accepted; known, orphan, side, unwanted and too-new ones are ignored; undecodable and invalid ones rejected against their sender', async () => {
  const [b1, b2, b3] = FakeChain.blocksOn(3)
  const chain = new FakeChain()
  const { gossip, penalties, orphansFrom, validators } = gossipOver(chain)
  await gossip.start()
  await gossip.start()
  assert.equal(validators.size, 2, 'subscribed once to blocks and transactions')
  const validate = validators.get(gossip.topics.blocks)
  assert.ok(validate !== undefined)

  assert.equal(await validate(b1.encode(), 'honest'), 'accept')
  assert.deepEqual(chain.processed.map(p => p.options), [{ requested: false, source: 'honest' }], 'gossip hands blocks in as unrequested, naming their sender')
  assert.equal(chain.tip.idString, b1.idString)

  assert.equal(await validate(b1.encode(), 'late'), 'ignore', 'known')
  assert.equal(chain.processed.length, 1, 'a known block is not processed again')

  assert.equal(await validate(b3.encode(), 'ahead'), 'ignore', 'orphan')
  assert.deepEqual(orphansFrom, ['ahead'], 'the sender of an orphan is synced from')

  for (const status of ['side', 'unwanted'] as const) {
    chain.processBlock = async () => ({ status })
    assert.equal(await validate(b2.encode(), 'forked'), 'ignore', status)
  }
  chain.processBlock = async () => { throw new BlockError('TIME_TOO_NEW', 'two hours ahead') }
  assert.equal(await validate(b2.encode(), 'early'), 'ignore', 'too new: valid later, not the sender\'s fault')
  assert.deepEqual(penalties, [], 'nobody penalised so far')

  assert.equal(await validate(new Uint8Array([0xff, 0x00, 0x13]), 'garbage'), 'reject')
  chain.processBlock = async () => { throw new BlockError('BAD_COINBASE_VALUE', 'pays itself more') }
  assert.equal(await validate(b2.encode(), 'cheat'), 'reject')
  assert.deepEqual(penalties, [{ peer: 'garbage', weight: BAN_WEIGHT }, { peer: 'cheat', weight: BAN_WEIGHT }])

  // Our own damage is not a peer's doing: it is thrown, not held against the sender.
  chain.processBlock = async () => { throw new StoreError('CORRUPT_BLOCK', 'a block of ours is gone') }
  await assert.rejects(validate(b2.encode(), 'innocent'), StoreError)
  assert.equal(penalties.length, 2)

  await gossip.stop()
  await gossip.stop()
  assert.equal(validators.size, 0, 'unsubscribed')
})

test('gossip alone: a transaction the chain takes is accepted; one pooled already or not yet spendable ignored; undecodable and invalid ones rejected', async () => {
  const chain = new FakeChain()
  const key = newKey()
  const tx = spendTx(chain, [{ txid: cidOf(new Uint8Array([1])), index: 0, amount: 1_000_000n }], key)
  const pooled = new Set<string>()
  const { gossip, penalties } = gossipOver(chain, pooled)
  chain.acceptTx = async accepted => { pooled.add(accepted.idString); return { tx: accepted } as unknown as MempoolEntry }
  assert.equal(await gossip.validateTx(tx.bytes, 'honest'), 'accept')
  assert.equal(await gossip.validateTx(tx.bytes, 'late'), 'ignore', 'in the mempool already')
  pooled.clear()
  chain.acceptTx = async () => { throw new TxError('MISSING_INPUT', 'its parent is on its way') }
  assert.equal(await gossip.validateTx(tx.bytes, 'early'), 'ignore')
  assert.deepEqual(penalties, [])
  assert.equal(await gossip.validateTx(new Uint8Array([0x80]), 'garbage'), 'reject')
  chain.acceptTx = async () => { throw new TxError('BAD_SIGNATURE', 'not signed by the key') }
  assert.equal(await gossip.validateTx(tx.bytes, 'forger'), 'reject')
  assert.deepEqual(penalties, [{ peer: 'garbage', weight: BAN_WEIGHT }, { peer: 'forger', weight: BAN_WEIGHT }])
})
