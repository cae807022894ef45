import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { test, type TestContext } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import type { PeerId, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { fullBlocksDatadir } from '../bench/fixtures.ts'
import { BITSWAP_PROTOCOLS } from '../src/ipfs/bitswap-service.ts'
import type { CointsNode } from '../src/node/node.ts'
import { encodeVarint } from '../src/p2p/framing.ts'
import type { CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { stockHelia } from './helpers/helia.ts'
import { addrOf, newKey, rpc, startLibp2p, startNode, waitFor } from './helpers/node-harness.ts'

/** A block's bytes by CID through a stock Helia: its blockstore asks the peers it is connected to over bitswap. */
async function fetchBytes (helia: Awaited<ReturnType<typeof stockHelia>>, cid: CID, timeoutMs = 20_000): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of helia.blockstore.get(cid, { signal: AbortSignal.timeout(timeoutMs) })) chunks.push(chunk)
  const bytes = Uint8Array.from(Buffer.concat(chunks))
  assert.deepEqual((await sha256.digest(bytes)).digest, cid.multihash.digest, `${cid.toString()}: the bytes hash to it`)
  return bytes
}

test('a stock Helia fetches a header, its transaction list and a transaction from a running node over bitswap, and decodes them with @ipld/dag-cbor alone', async t => {
  const key = newKey()
  const node = await startNode(t, { minerAddress: key.address })
  await rpc(node, 'generate', [3])
  const helia = await stockHelia(t)
  await helia.libp2p.dial(multiaddr(addrOf(node)))

  const tip = CID.parse(node.chain.tip.idString)
  const header = dagCbor.decode<{ height: number, prev: CID, txs: CID }>(await fetchBytes(helia, tip))
  assert.equal(header.height, 3)
  const list = dagCbor.decode<CID[]>(await fetchBytes(helia, header.txs))
  assert.equal(list.length, 1)
  const coinbase = dagCbor.decode<{ outputs: Array<{ amount: bigint | number }> }>(await fetchBytes(helia, list[0]))
  assert.ok(coinbase.outputs.length > 0)
  const parent = dagCbor.decode<{ height: number }>(await fetchBytes(helia, header.prev))
  assert.equal(parent.height, 2)
})

test('with --no-bitswap a node speaks no bitswap: a stock Helia\'s want waits for nothing', async t => {
  const node = await startNode(t, { minerAddress: newKey().address, bitswap: false })
  const helia = await stockHelia(t)
  await helia.libp2p.dial(multiaddr(addrOf(node)))
  await assert.rejects(fetchBytes(helia, CID.parse(node.chain.tip.idString), 3_000), /Failed to load block|abort|timeout/i)
  assert.ok(!node.p2p?.libp2p.getProtocols().includes(BITSWAP_PROTOCOLS[0]))
})

/** A protobuf length-delimited field. */
function field (n: number, payload: Uint8Array): Uint8Array {
  return Buffer.concat([encodeVarint(n << 3 | 2), encodeVarint(payload.length), payload])
}

/** A bitswap message wanting `cids` (whole blocks), framed as on the wire. */
function wantMessage (cids: Uint8Array[]): Uint8Array {
  const entries = cids.map(cid => field(1, Buffer.concat([field(1, cid), Uint8Array.of(2 << 3 | 0, 1)])))
  const message = field(1, Buffer.concat(entries))
  return Buffer.concat([encodeVarint(message.length), message])
}

/** A bare libp2p peer (the node's own stack) connected to `node`, with a bitswap stream open to it. */
async function bitswapPeer (t: TestContext, node: CointsNode, onReply: (stream: Stream) => void = () => {}): Promise<{ peer: CointsLibp2p, stream: Stream }> {
  const peer = await startLibp2p(t, { topics: [], messageId: () => new Uint8Array(32) })
  await peer.handle(BITSWAP_PROTOCOLS[0], onReply)
  await peer.dial(multiaddr(addrOf(node)))
  const stream = await peer.dialProtocol(node.p2p?.libp2p.peerId as PeerId, BITSWAP_PROTOCOLS[0])
  return { peer, stream }
}

test('a bitswap peer that wants 100,000 CIDs is dropped at 8,192 outstanding and penalised; the node stays responsive and serves others', async t => {
  const node = await startNode(t, { minerAddress: newKey().address })
  await rpc(node, 'generate', [2])
  const { peer, stream } = await bitswapPeer(t, node)
  const attacker = peer.peerId.toString()
  let sent = 0
  for (let m = 0; m < 100 && stream.status === 'open'; m++) {
    const cids = Array.from({ length: 1_000 }, () => CID.createV1(dagCbor.code, createDigest(0x12, randomBytes(32))).bytes)
    if (!stream.send(wantMessage(cids))) await stream.onDrain({ signal: AbortSignal.timeout(10_000) }).catch(() => {})
    sent += cids.length
  }
  await waitFor(() => peer.getConnections().length === 0, 'the flooding peer to be hung up on', 20_000)
  assert.ok(sent < 100_000 || stream.status !== 'open', 'the stream did not take all 100,000 wants')
  assert.ok((node.p2p?.bans.offenceLevel(attacker) ?? 0) > 0, 'the flood counts against the peer')
  assert.equal(node.bitswap?.guard.peerState(attacker), undefined, 'nothing kept for the dropped peer')
  const started = Date.now()
  assert.equal(await rpc(node, 'getblockcount'), 2)
  assert.ok(Date.now() - started < 5_000, 'RPC answers')
  const helia = await stockHelia(t)
  await helia.libp2p.dial(multiaddr(addrOf(node)))
  assert.equal(dagCbor.decode<{ height: number }>(await fetchBytes(helia, CID.parse(node.chain.tip.idString))).height, 2)
})

test('a bitswap peer that wants 4 MB of blocks and never reads has its reply cut at the stall deadline, and is penalised and dropped', async t => {
  const fixture = await fullBlocksDatadir(4_000_000)
  t.after(async () => { await rm(fixture.datadir, { recursive: true, force: true }) })
  const node = await startNode(t, { datadir: fixture.datadir })
  const txs: Uint8Array[] = []
  for (const id of fixture.ids) for (const tx of (await node.chain.getBlock(id))?.txs ?? []) txs.push(tx.id.bytes)
  // Replies come on streams the node opens: this peer takes them and reads nothing.
  const { peer, stream } = await bitswapPeer(t, node, reply => { reply.pause() })
  stream.send(wantMessage(txs))
  const attacker = peer.peerId.toString()
  await waitFor(() => peer.getConnections().length === 0, 'the peer that never reads to be dropped', 30_000)
  assert.ok((node.p2p?.bans.offenceLevel(attacker) ?? 0) > 0, 'the stall counts against the peer')
  assert.equal(await rpc(node, 'getblockcount'), node.chain.height)
})
