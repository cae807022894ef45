/**
 * SyncService alone, against chains held in memory behind the chain's ports
 * (no Chain, no LevelDB, no libp2p): two sync services over a transport that
 * hands each request to the other's handler. What it fetches from an honest
 * peer, and whom it penalises (with which weight) for each kind of bad answer.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { BAN_WEIGHT, BlockError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { createLogger } from '../src/log.ts'
import { encodeBlocksResponse, encodeHeadersResponse } from '../src/p2p/sync-messages.ts'
import { SyncService } from '../src/p2p/sync-service.ts'
import type { RequestHandler, RequestTransport } from '../src/p2p/transport.ts'
import { FakeChain } from './helpers/fake-chain.ts'
import { regtest } from './helpers/chain-harness.ts'
import { waitFor } from './helpers/node-harness.ts'

const PREFIX = `/coints/regtest/${genesisBlock(regtest).idString}`
const logger = createLogger('test')

interface Penalty { peer: string, weight: number }

/** Peers by name, each with its protocol handlers; a request goes straight to the handler of the peer named. */
class MemoryNetwork {
  readonly handlers = new Map<string, Map<string, RequestHandler>>()

  transportOf (self: string): RequestTransport {
    const own = new Map<string, RequestHandler>()
    this.handlers.set(self, own)
    return {
      request: async (peer, protocol, body) => {
        const handler = this.handlers.get(peer)?.get(protocol)
        if (handler === undefined) throw new Error(`${peer} does not speak ${protocol}`)
        return await handler(body, self)
      },
      handle: async (protocol, handler) => { own.set(protocol, handler) },
      unhandle: async protocol => { own.delete(protocol) }
    }
  }

  /** Replaces what `peer` answers on the protocol ending in `suffix`. */
  answer (peer: string, suffix: string, handler: RequestHandler): void {
    const own = this.handlers.get(peer) as Map<string, RequestHandler>
    const protocol = [...own.keys()].find(p => p.endsWith(suffix)) as string
    own.set(protocol, handler)
  }
}

async function syncOver (t: TestContext, net: MemoryNetwork, name: string, chain: FakeChain): Promise<{ sync: SyncService, penalties: Penalty[] }> {
  const penalties: Penalty[] = []
  const sync = new SyncService({
    chain,
    transport: net.transportOf(name),
    peers: { penalise: (peer, _reason, weight = 1) => { penalties.push({ peer, weight }) } },
    logger
  }, { protocolPrefix: PREFIX, statusIntervalMs: 60_000, requestTimeoutMs: 5_000 })
  await sync.start()
  t.after(async () => { await sync.stop() })
  return { sync, penalties }
}

test('sync alone: a node at genesis fetches an honest peer\'s 30 blocks as requested blocks, in order, penalising nobody; start and stop twice are once', async t => {
  const net = new MemoryNetwork()
  const blocks = FakeChain.blocksOn(30)
  const remote = await syncOver(t, net, 'remote', new FakeChain(blocks))
  const chain = new FakeChain()
  const { sync, penalties } = await syncOver(t, net, 'local', chain)
  await sync.start()
  sync.peerConnected('remote')
  await waitFor(() => chain.height === 30, 'the 30 blocks to connect')
  assert.deepEqual(chain.processed.map(p => p.block.idString), blocks.map(b => b.idString))
  assert.ok(chain.processed.every(p => p.options?.requested === true))
  assert.deepEqual([...penalties, ...remote.penalties], [])
  await sync.stop()
  await sync.stop()
  assert.equal(net.handlers.get('local')?.size, 0, 'its protocols are unhandled')
})

test('sync alone: the peer is penalised for undecodable headers or blocks, blocks withheld and invalid blocks; not for a block too new for us yet', async t => {
  const blocks = FakeChain.blocksOn(5)
  const cases: Array<{ what: string, weight: number | undefined, hostile: (net: MemoryNetwork, chain: FakeChain) => void }> = [
    { what: 'undecodable headers', weight: BAN_WEIGHT, hostile: net => { net.answer('peer', '/headers/1.0.0', async () => encodeHeadersResponse([new Uint8Array([0xff, 0x01])])) } },
    { what: 'an undecodable block', weight: BAN_WEIGHT, hostile: net => { net.answer('peer', '/blocks/1.0.0', async () => encodeBlocksResponse([new Uint8Array([0xff, 0x01])])) } },
    { what: 'a short reply that is not full (blocks withheld)', weight: BAN_WEIGHT, hostile: net => { net.answer('peer', '/blocks/1.0.0', async () => encodeBlocksResponse([blocks[4].encode()])) } },
    { what: 'an invalid block', weight: BAN_WEIGHT, hostile: (_net, chain) => { chain.processBlock = async () => { throw new BlockError('BAD_COINBASE_VALUE', 'pays itself more') } } },
    { what: 'a block too new for us', weight: undefined, hostile: (_net, chain) => { chain.processBlock = async () => { throw new BlockError('TIME_TOO_NEW', 'two hours ahead') } } }
  ]
  for (const { what, weight, hostile } of cases) {
    const net = new MemoryNetwork()
    await syncOver(t, net, 'peer', new FakeChain(blocks))
    const chain = new FakeChain()
    const { sync, penalties } = await syncOver(t, net, 'local', chain)
    hostile(net, chain)
    const processBlock = chain.processBlock.bind(chain)
    let tried = false
    chain.processBlock = async (...args) => { tried = true; return await processBlock(...args) }
    sync.peerConnected('peer')
    await waitFor(() => penalties.length > 0 || (weight === undefined && tried && sync.peerState('peer')?.disappointedAt !== undefined), `the sync from a peer sending ${what} to end`)
    assert.deepEqual(penalties, weight === undefined ? [] : [{ peer: 'peer', weight }], what)
    assert.equal(chain.height, 0, `${what}: nothing connected`)
    await sync.stop()
  }
})
