/**
 * One verdict table: every block, transaction and sync error code carries its
 * verdict on the peer, and gossip and sync judge by it (each tested with the
 * chain's call made to fail with every code in turn).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  BAN_WEIGHT, BLOCK_VERDICTS, BlockError, BlockErrorCode, TX_VERDICTS, TxError, TxErrorCode, type PeerVerdict
} from '../src/core/errors.ts'
import { createLogger } from '../src/log.ts'
import { ChainGossip } from '../src/p2p/chain-gossip.ts'
import { SYNC_VERDICTS, SyncError, SyncErrorCode } from '../src/p2p/sync-messages.ts'
import { SyncService } from '../src/p2p/sync-service.ts'
import type { GossipTransport, PeerPolicy, RequestHandler, RequestTransport } from '../src/p2p/transport.ts'
import { mineBlocks, mineOn, newKey, openChain } from './helpers/chain-harness.ts'
import { waitFor } from './helpers/node-harness.ts'

const logger = createLogger('test')

/** A PeerPolicy that records the weights it is given. */
function recorder (): PeerPolicy & { weights: number[] } {
  const weights: number[] = []
  return { weights, penalise: (_peer, _reason, weight = 1) => { weights.push(weight) } }
}

const noGossip: GossipTransport = { subscribe: () => {}, unsubscribe: () => {}, publish: async () => {} }

function expectedWeights (verdict: PeerVerdict): number[] {
  return verdict.action === 'reject' ? [verdict.weight] : []
}

test('every block, transaction and sync error code has a verdict, and nothing else has one', () => {
  const tables: Array<[Record<string, string>, Record<string, PeerVerdict>]> = [[BlockErrorCode, BLOCK_VERDICTS], [TxErrorCode, TX_VERDICTS], [SyncErrorCode, SYNC_VERDICTS]]
  for (const [codes, verdicts] of tables) {
    assert.deepEqual(Object.keys(verdicts).sort(), Object.values(codes).sort())
    for (const [code, verdict] of Object.entries(verdicts)) {
      assert.ok(verdict.action === 'ignore' ? verdict.weight === 0 : verdict.action === 'reject' && verdict.weight > 0, code)
    }
  }
  for (const code of Object.values(BlockErrorCode)) assert.equal(new BlockError(code).verdict, BLOCK_VERDICTS[code])
  for (const code of Object.values(TxErrorCode)) assert.equal(new TxError(code).verdict, TX_VERDICTS[code])
  for (const code of Object.values(SyncErrorCode)) assert.equal(new SyncError(code).verdict, SYNC_VERDICTS[code])
  // Codes nothing threw are gone; the harmless ones stay harmless.
  for (const gone of ['PREV_UNKNOWN', 'ALREADY_KNOWN', 'WRONG_NETWORK']) assert.equal(gone in BlockErrorCode, false, gone)
  assert.equal(BLOCK_VERDICTS.TIME_TOO_NEW.action, 'ignore')
  assert.equal(BLOCK_VERDICTS.BAD_COINBASE_VALUE.weight, BAN_WEIGHT)
  for (const code of ['ALREADY_KNOWN', 'MISSING_INPUT', 'CONFLICT', 'MEMPOOL_FULL', 'FEE_TOO_LOW', 'IMMATURE_SPEND'] as const) assert.equal(TX_VERDICTS[code].action, 'ignore', code)
})

test('gossip judges each block and transaction error by its code\'s verdict', async t => {
  const { chain } = await openChain(t)
  const peers = recorder()
  const gossip = new ChainGossip({ chain, mempool: chain.mempool, transport: noGossip, peers, logger, onOrphan: () => {} })
  const block = await mineOn(chain, newKey().addressHash)
  const tx = block.txs[0]
  for (const code of Object.values(BlockErrorCode)) {
    chain.processBlock = async () => { throw new BlockError(code) }
    peers.weights.length = 0
    assert.equal(await gossip.validateBlock(block.encode(), 'peer'), BLOCK_VERDICTS[code].action, code)
    assert.deepEqual(peers.weights, expectedWeights(BLOCK_VERDICTS[code]), code)
  }
  for (const code of Object.values(TxErrorCode)) {
    chain.acceptTx = async () => { throw new TxError(code) }
    peers.weights.length = 0
    assert.equal(await gossip.validateTx(tx.bytes, 'peer'), TX_VERDICTS[code].action, code)
    assert.deepEqual(peers.weights, expectedWeights(TX_VERDICTS[code]), code)
  }
  // Bytes that do not decode ban their sender.
  peers.weights.length = 0
  assert.equal(await gossip.validateBlock(Uint8Array.of(1, 2, 3), 'peer'), 'reject')
  assert.equal(await gossip.validateTx(Uint8Array.of(1, 2, 3), 'peer'), 'reject')
  assert.deepEqual(peers.weights, [BAN_WEIGHT, BAN_WEIGHT])
})

/** Two request transports wired to each other: a request on one runs the other's handler. */
function linkedTransports (fail: () => Error | undefined): [RequestTransport, RequestTransport] {
  const handlers = [new Map<string, RequestHandler>(), new Map<string, RequestHandler>()]
  const side = (own: Map<string, RequestHandler>, other: Map<string, RequestHandler>): RequestTransport => ({
    request: async (peer, protocol, body) => {
      const failure = protocol.endsWith('/blocks/1.0.0') ? fail() : undefined
      if (failure !== undefined) throw failure
      const handler = other.get(protocol)
      if (handler === undefined) throw new SyncError('STREAM_FAILED', `no handler for ${protocol}`)
      return await handler(body, peer)
    },
    handle: async (protocol, handler) => { own.set(protocol, handler) },
    unhandle: async protocol => { own.delete(protocol) }
  })
  return [side(handlers[0], handlers[1]), side(handlers[1], handlers[0])]
}

test('sync judges each block error of a served block, and each sync error, by its code\'s verdict', async t => {
  const { chain: source, ws } = await openChain(t, { name: 'source' })
  await mineBlocks(source, ws.clock, 2, newKey().addressHash)
  const target = await ws.open({ name: 'target' })
  const protocolPrefix = '/coints/test'

  /** Syncs `target` from `source` once, with `fault` making it fail; the weights the source was penalised with. */
  const syncOnce = async (fault: { block?: BlockError, sync?: SyncError }): Promise<number[]> => {
    const peers = recorder()
    target.processBlock = async () => { throw fault.block ?? new Error('no block fault') }
    const [near, far] = linkedTransports(() => fault.sync)
    const server = new SyncService({ chain: source, transport: far, peers: recorder(), logger }, { protocolPrefix })
    const client = new SyncService({ chain: target, transport: near, peers, logger }, { protocolPrefix })
    await server.start()
    await client.start()
    client.peerConnected('source')
    await waitFor(() => client.peerState('source')?.disappointedAt, 'the sync pass to end')
    await client.stop()
    await server.stop()
    return peers.weights
  }
  for (const code of Object.values(BlockErrorCode)) {
    assert.deepEqual(await syncOnce({ block: new BlockError(code) }), expectedWeights(BLOCK_VERDICTS[code]), code)
  }
  for (const code of Object.values(SyncErrorCode)) {
    assert.deepEqual(await syncOnce({ sync: new SyncError(code) }), expectedWeights(SYNC_VERDICTS[code]), code)
  }
})
