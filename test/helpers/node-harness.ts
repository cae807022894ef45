/** In-process coints nodes on regtest over loopback TCP, for networking and RPC tests. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { encodeAddress } from '../../src/core/address.ts'
import type { KeyPair } from '../../src/core/keys.ts'
import { setLogLevel } from '../../src/log.ts'
import { CointsNode } from '../../src/node/node.ts'
import { loopbackNodeOptions } from '../../src/node/loopback.ts'
import type { NodeOptions } from '../../src/node/options.ts'
import { callRpcRaw, rpcClient, RpcCallError, type RpcTarget } from '../../src/rpc/client.ts'
import type { RpcCallParams, RpcMethodName, RpcParams, RpcResult } from '../../src/rpc/contract.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { BanList } from '../../src/p2p/ban-list.ts'
import { createLibp2pNode, NO_NAT_TRAVERSAL, type CointsLibp2p, type Libp2pInit } from '../../src/p2p/libp2p-node.ts'
import { waitFor } from '../../src/util/wait-for.ts'

import { newKey as newKeyPair, regtest, type MiningChain } from './chain-harness.ts'

export { regtest, waitFor }
setLogLevel(process.env.COINTS_TEST_LOG === undefined ? 'silent' : 'debug')

export interface TestKey extends KeyPair { address: string }

export function newKey (): TestKey {
  const key = newKeyPair()
  return { ...key, address: encodeAddress(regtest.addressPrefix, key.addressHash) }
}

/** Nodes started on each datadir a test owns (ownDatadir), stopped before it is removed. */
const nodesOn = new Map<string, CointsNode[]>()

/**
 * Removes `datadir` after the test, once every node started on it has stopped
 * (after-hooks run in the order they were added: one per node would come too late).
 */
export function ownDatadir (t: TestContext, datadir: string): string {
  nodesOn.set(datadir, [])
  t.after(async () => {
    for (const node of nodesOn.get(datadir) ?? []) await node.stop()
    nodesOn.delete(datadir)
    await rm(datadir, { recursive: true, force: true })
  })
  return datadir
}

/** A fresh datadir for nodes a test restarts on it; removed after the test (ownDatadir). */
export async function tempDatadir (t: TestContext): Promise<string> {
  return ownDatadir(t, await mkdtemp(join(tmpdir(), 'coints-node-')))
}

/** A regtest node on loopback in a fresh datadir (or `options.datadir`), not started; it is stopped, and a fresh datadir removed, after the test. */
export async function testNode (t: TestContext, options: Partial<NodeOptions> = {}): Promise<CointsNode> {
  const datadir = options.datadir ?? await mkdtemp(join(tmpdir(), 'coints-node-'))
  const node = await CointsNode.create(loopbackNodeOptions(datadir, { statusIntervalMs: 1_000, ...options }))
  nodesOn.get(datadir)?.push(node)
  t.after(async () => {
    await node.stop()
    if (options.datadir === undefined) await rm(datadir, { recursive: true, force: true })
  })
  return node
}

/** testNode, started. */
export async function startNode (t: TestContext, options: Partial<NodeOptions> = {}): Promise<CointsNode> {
  const node = await testNode(t, options)
  await node.start()
  return node
}

/** The node's chain as the chain harness mines and funds through it, with the node's mempool and templates. */
export function miningChain (node: CointsNode): MiningChain {
  const { chain, mempool, templates } = node
  return {
    params: chain.params,
    chainTag: chain.chainTag,
    mempool,
    templates,
    processBlock: async (block, options) => await chain.processBlock(block, options),
    acceptTx: async (tx, time) => await chain.acceptTx(tx, time)
  }
}

/** The node's first listen address with its peer id, to bootstrap others from. */
export function addrOf (node: CointsNode): string {
  const addr = node.p2p?.libp2p.getMultiaddrs()[0]
  if (addr === undefined) throw new Error('node has no listen address')
  return addr.toString()
}

function rpcTargetOf (node: CointsNode): RpcTarget {
  return { datadir: node.options.datadir, port: node.rpc.port }
}

/** A call of the node's RPC, typed by the contract. */
export async function rpc<M extends RpcMethodName, const P extends RpcParams<M> = RpcParams<M>> (node: CointsNode, method: M, ...params: RpcCallParams<M, P>): Promise<RpcResult<M, P>> {
  return await rpcClient(rpcTargetOf(node))(method, ...params)
}

/** A call of any method with any params, for tests of what the node answers to wrong ones. */
export async function rawRpc (node: CointsNode, method: string, params: unknown = []): Promise<unknown> {
  return await callRpcRaw(rpcTargetOf(node), method, params)
}

/** Asserts that an RPC call fails with the coded error `code`. */
export async function rejectsWith (call: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof RpcCallError, `expected an RPC error, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    return true
  })
}

/** Resolves when every node has the same tip at least at `height`. */
export async function waitForSameTip (nodes: CointsNode[], height: number, timeoutMs = 30_000): Promise<string> {
  return await waitFor(() => {
    const tips = new Set(nodes.map(n => n.chain.tip.idString))
    return tips.size === 1 && nodes[0].chain.height >= height ? nodes[0].chain.tip.idString : undefined
  }, `${nodes.length} nodes to agree on a tip at height ≥ ${height} (heights ${nodes.map(n => n.chain.height).join(', ')})`, timeoutMs)
}

/**
 * A bare libp2p node on loopback, with the node's own stack but no chain: tests
 * drive it by hand. `host` is the loopback address it listens and dials from
 * (Linux routes all of 127/8 to lo): hostile peers on 127.0.0.2 can be banned by
 * address without cutting the honest nodes on 127.0.0.1. Stopped after the test.
 */
export async function startLibp2p (t: TestContext, init: Pick<Libp2pInit, 'topics' | 'messageId'> & Partial<Pick<Libp2pInit, 'privateKey'>> & { host?: string }): Promise<CointsLibp2p> {
  const { host = '127.0.0.1', privateKey = await generateKeyPair('Ed25519'), ...rest } = init
  // net.connect's localAddress, which @libp2p/tcp passes through without declaring it (noDelay, its default, makes the type match).
  const dialOpts = { localAddress: host, noDelay: true }
  const libp2p = await createLibp2pNode({
    privateKey,
    listen: [`/ip4/${host}/tcp/0`],
    bootstrap: [],
    mdns: false,
    maxPeers: 8,
    bans: new BanList(),
    tcp: { dialOpts },
    nat: { ...NO_NAT_TRAVERSAL, dhtProtocol: '/coints/test' },
    ...rest
  })
  t.after(async () => { await libp2p.stop() })
  return libp2p
}
