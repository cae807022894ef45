import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import { CarBlockIterator } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { withHTTP } from '@helia/http'
import { createVerifiedFetch } from '@helia/verified-fetch'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { cidOf } from '../src/core/cbor.ts'
import type { CointsNode } from '../src/node/node.ts'
import { newKey, rpc, startNode } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

const run = promisify(execFile)

/** A node with its HTTP server on a port the system picks, and 14 blocks, one with a spend. */
async function gatewayNode (t: TestContext): Promise<CointsNode> {
  const key = newKey()
  const node = await startNode(t, { minerAddress: key.address, http: { host: '127.0.0.1', port: 0 } })
  await rpc(node, 'generate', [12])
  await node.chain.acceptTx(await spendCoinbase(node.chain, 1, key, newKey().addressHash))
  await rpc(node, 'generate', [2])
  return node
}

function base (node: CointsNode): string {
  return `http://127.0.0.1:${node.http?.port ?? 0}`
}

/** Every object of a CAR, each checked to hash to its CID. */
async function carObjects (bytes: Uint8Array): Promise<{ roots: string[], cids: string[] }> {
  const reader = await CarBlockIterator.fromIterable((async function * () { yield bytes })())
  const cids: string[] = []
  for await (const { cid, bytes: data } of reader) {
    assert.deepEqual((await sha256.digest(data)).digest, cid.multihash.digest, `${cid.toString()} hashes to its CID`)
    cids.push(cid.toString())
  }
  return { roots: (await reader.getRoots()).map(String), cids }
}

/** The CIDs of the best-chain block at `height`: header, list, transactions. */
async function objectsAt (node: CointsNode, height: number): Promise<string[]> {
  const entry = node.chain.getEntryAt(height)
  assert.ok(entry !== undefined)
  const block = await node.chain.getBlock(entry.id)
  assert.ok(block !== undefined)
  return [block.idString, cidOf(block.txList).toString(), ...block.txs.map(tx => tx.idString)]
}

test('@helia/verified-fetch pointed at the gateway fetches a block and a CAR and verifies them', async t => {
  const node = await gatewayNode(t)
  // A Helia of HTTP alone (no libp2p, no delegated routers or public gateways), told the gateway as the provider:
  // Helia 7's routing never ends a search with no router, so the gateway is given rather than found.
  const helia = withHTTP(createHeliaLight({ codecs: [dagCbor] }), { delegatedRouters: [], recursiveGateways: [], allowInsecure: true, allowLocal: true })
  await helia.start()
  const verifiedFetch = await createVerifiedFetch(helia)
  t.after(async () => { await verifiedFetch.stop() })
  const providers = [multiaddr(`/ip4/127.0.0.1/tcp/${node.http?.port ?? 0}/http`)]
  const tip = node.chain.tip.idString

  const raw = await verifiedFetch(`ipfs://${tip}`, { headers: { accept: 'application/vnd.ipld.raw' }, providers })
  assert.equal(raw.status, 200)
  const header = new Uint8Array(await raw.arrayBuffer())
  assert.equal(Buffer.from(header).toString('hex'), Buffer.from((await node.chain.getHeader(CID.parse(tip)))?.bytes ?? []).toString('hex'))
  assert.equal(dagCbor.decode<{ height: number }>(header).height, 14)

  // The whole DAG from the tip, which verified-fetch walks itself, each block fetched raw from the gateway and checked.
  const car = await verifiedFetch(`ipfs://${tip}`, { headers: { accept: 'application/vnd.ipld.car' }, providers })
  assert.equal(car.status, 200)
  const { roots, cids } = await carObjects(new Uint8Array(await car.arrayBuffer()))
  assert.deepEqual(roots, [tip])
  const expected: string[] = []
  for (let h = 14; h >= 0; h--) expected.push(...await objectsAt(node, h))
  assert.deepEqual(new Set(cids), new Set(expected))
})

test('the gateway over plain HTTP (curl and a CAR reader): raw bytes, CARs of each dag-scope, HEAD, immutable caching; 404 for unknown CIDs, 400 for malformed ones', async t => {
  const node = await gatewayNode(t)
  const tip = node.chain.tip.idString
  const curl = async (...args: string[]): Promise<{ status: number, headers: string, body: Buffer }> => {
    const { stdout } = await run('curl', ['-s', '-D', '-', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })
    const end = stdout.indexOf('\r\n\r\n')
    const headers = stdout.subarray(0, end).toString('latin1')
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1]), headers: headers.toLowerCase(), body: stdout.subarray(end + 4) }
  }

  const raw = await curl('-H', 'Accept: application/vnd.ipld.raw', `${base(node)}/ipfs/${tip}`)
  assert.equal(raw.status, 200)
  assert.match(raw.headers, /content-type: application\/vnd\.ipld\.raw/)
  assert.match(raw.headers, /cache-control: public, max-age=29030400, immutable/)
  assert.equal(raw.body.toString('hex'), Buffer.from((await node.chain.getHeader(CID.parse(tip)))?.bytes ?? []).toString('hex'))
  assert.equal((await curl(`${base(node)}/ipfs/${tip}?format=raw`)).body.toString('hex'), raw.body.toString('hex'))

  const block = await curl(`${base(node)}/ipfs/${tip}?format=car&dag-scope=block`)
  assert.match(block.headers, /content-type: application\/vnd\.ipld\.car; version=1/)
  assert.deepEqual((await carObjects(block.body)).cids, [tip])
  const entity = await curl('-H', 'Accept: application/vnd.ipld.car', `${base(node)}/ipfs/${tip}?dag-scope=entity`)
  assert.deepEqual((await carObjects(entity.body)).cids, await objectsAt(node, 14))
  const all = await curl(`${base(node)}/ipfs/${tip}?format=car`)
  const expected: string[] = []
  for (let h = 14; h >= 0; h--) expected.push(...await objectsAt(node, h))
  const { roots, cids } = await carObjects(all.body)
  assert.deepEqual(roots, [tip])
  assert.deepEqual(cids, expected, 'dag-scope=all (the default): each block, then its parent, down to genesis')
  const [, list] = await objectsAt(node, 13)
  assert.deepEqual((await carObjects((await curl(`${base(node)}/ipfs/${list}?format=car&dag-scope=entity`)).body)).cids, [list], 'a list is its own entity')

  const head = await curl('-I', '-H', 'Accept: application/vnd.ipld.raw', `${base(node)}/ipfs/${tip}`)
  assert.equal(head.status, 200)
  assert.match(head.headers, new RegExp(`content-length: ${raw.body.length}`))

  const unknown = CID.createV1(dagCbor.code, createDigest(0x12, new Uint8Array(32).fill(7))).toString()
  assert.equal((await curl(`${base(node)}/ipfs/${unknown}?format=raw`)).status, 404)
  assert.equal((await curl(`${base(node)}/ipfs/${unknown}?format=car`)).status, 404)
  assert.equal((await curl(`${base(node)}/ipfs/not-a-cid?format=raw`)).status, 400)
  assert.equal((await curl(`${base(node)}/ipfs/${tip.slice(0, -3)}?format=raw`)).status, 400)
  assert.equal((await curl(`${base(node)}/ipfs/${tip}?format=car&dag-scope=everything`)).status, 400)
  assert.equal((await curl(`${base(node)}/ipfs/${tip}`)).status, 406, 'neither raw nor car asked for')
  assert.equal((await curl('-X', 'POST', `${base(node)}/ipfs/${tip}?format=raw`)).status, 405)
})
