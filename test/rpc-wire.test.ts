/**
 * The RPC wire, recorded: every method's reply body on a regtest node (two
 * nodes, for the peer methods) after a fixed story of mining, sending and a
 * wallet, compared byte for byte with test/fixtures/rpc-wire.json once what
 * changes from run to run is normalised (ids, addresses, keys, times, hex). A
 * change to any reply's fields, their order, their formatting or an error's
 * wording fails here; COINTS_RECORD_WIRE=1 writes the fixture anew, for a
 * change of the wire that is meant.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CointsNode } from '../src/node/node.ts'
import { mineBlockOn } from './helpers/chain-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'
import { addrOf, newKey, regtest, startNode, waitFor } from './helpers/node-harness.ts'
import { toHex } from '../src/core/hash.ts'
import { typedRpc } from '../src/rpc/client.ts'
import type { RpcCall } from '../src/rpc/contract.ts'

const FIXTURE = new URL('./fixtures/rpc-wire.txt', import.meta.url).pathname
/** The BIP39 test mnemonic: restorewallet's addresses are the same at every run. */
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'

/** Keys whose values are times, durations or sizes that move from run to run. */
const VARYING = new Set(['time', 'mediantime', 'blocktime', 'timereceived', 'ban_created', 'banned_until', 'unlocked_until', 'duration', 'size_on_disk', 'networkhashps', 'nonce', 'hex', 'header', 'mnemonic', 'witness_program', 'rttMs', 'bytesIn', 'bytesOut', 'startTime', 'relayed', 'direct'])

/** Of those, numbers that are null until measured (a connection's round-trip time, at libp2p's first ping 10 s in). */
const KNOWN_LATER = new Set(['rttMs'])

/** Replaces what differs between runs by a placeholder; equal ids stay equal (numbered by first sight). */
class Normaliser {
  readonly #seen = new Map<string, string>()

  #label (kind: string, value: string): string {
    let label = this.#seen.get(value)
    if (label === undefined) this.#seen.set(value, label = `<${kind}${this.#seen.size}>`)
    return label
  }

  value (v: unknown, key?: string): unknown {
    if (Array.isArray(v)) return v.map(x => this.value(x, key))
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.value(x, k)]))
    if (key !== undefined && VARYING.has(key)) return typeof v === 'string' ? `<${key}>` : typeof v === 'number' || (v === null && KNOWN_LATER.has(key)) ? `<${key}:number>` : v
    if (typeof v !== 'string') return v
    return this.text(v)
  }

  /** Ids, addresses and peer ids inside any text (help and error messages too). */
  text (s: string): string {
    return s
      .replace(/\bbaf[a-z2-7]{20,}\b/g, m => this.#label('cid', m))
      .replace(/\brcoin1[a-z0-9]{20,}\b/g, m => this.#label('address', m))
      .replace(/\b12D3Koo[1-9A-HJ-NP-Za-km-z]{40,}\b/g, m => this.#label('peer', m))
      .replace(/\/ip4\/127\.0\.0\.1\/tcp\/\d+/g, '/ip4/127.0.0.1/tcp/<port>')
      .replace(/\b[0-9a-f]{65,}\b/g, '<hex>')
      .replace(/coints-(wire|node)-[A-Za-z0-9]+/g, 'coints-$1-<tmp>')
  }
}

interface Exchange { call: string, reply: string }

class Recorder {
  readonly exchanges: Exchange[] = []
  readonly #n = new Normaliser()

  /** Posts one request as a client would and keeps its reply body, normalised; returns the reply's result. */
  async call (node: CointsNode, method: string, params: unknown = [], { varyingNumbers = false } = {}): Promise<unknown> {
    const cookie = await readFile(join(node.options.datadir, '.cookie'), 'utf8')
    const res = await fetch(`http://127.0.0.1:${node.rpc.port}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(cookie).toString('base64')}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })
    })
    const body = await res.text()
    const reply = JSON.parse(body) as { result?: unknown, error?: unknown }
    // The body is JSON.stringify's: parsed and written again it is the same bytes, so the comparison is of the wire.
    assert.equal(JSON.stringify(reply), body)
    const shown = varyingNumbers ? JSON.parse(body, (_key, v: unknown) => typeof v === 'number' && _key !== 'id' ? '<number>' : v) as unknown : reply
    this.exchanges.push({ call: this.#n.text(`${method} ${JSON.stringify(params)}`), reply: JSON.stringify(this.#n.value(shown)) })
    return reply.result
  }

  /** The same, typed by the contract, for calls whose results the story goes on with. */
  typed (node: CointsNode): RpcCall {
    return typedRpc(async (method, params) => await this.call(node, method, params))
  }
}

/** Param lists no method accepts: the validation messages are part of the wire too. */
const BAD_PARAMS: unknown[] = [[1.5], [true, true, true, true, true], { nosuch: 1 }, 'text']

test('every RPC method answers the recorded wire', { timeout: 170_000 }, async t => {
  const r = new Recorder()
  const a = await startNode(t)
  const onA = r.typed(a)
  const b = await startNode(t, { bootstrap: [addrOf(a)] })
  await waitFor(async () => (await a.p2p?.peerInfo())?.length === 1 && (await b.p2p?.peerInfo())?.length === 1, 'a and b to connect')
  const tmp = await mkdtemp(join(tmpdir(), 'coints-wire-'))
  t.after(async () => { await rm(tmp, { recursive: true, force: true }) })

  const help = await onA('help')
  const methods = [...help.matchAll(/^([a-z]+)/gm)].map(m => m[1])
  assert.ok(methods.length > 40, `${methods.length} methods in help`)
  for (const method of methods) await r.call(a, 'help', [method])
  await r.call(a, 'help', ['nosuchmethod'])
  await r.call(a, 'nosuchmethod')
  for (const method of methods.filter(m => m !== 'stop')) {
    for (const params of BAD_PARAMS) await r.call(a, method, params)
  }

  // A fresh chain and no wallet.
  await r.call(a, 'getblockchaininfo')
  await r.call(a, 'getblockcount')
  const genesis = await onA('getbestblockhash')
  await r.call(a, 'getblockhash', [0])
  await r.call(a, 'getblockhash', [5])
  await r.call(a, 'getblock', [genesis])
  await r.call(a, 'getblockheader', [genesis])
  await r.call(a, 'getblockheader', [genesis, false])
  await r.call(a, 'getblock', ['bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje'])
  await r.call(a, 'getblock', ['not a cid'])
  await r.call(a, 'getwalletinfo')
  await r.call(a, 'getbalance')
  await r.call(a, 'getnewaddress')
  await r.call(a, 'listtransactions')

  // A wallet, coins and payments.
  await r.call(a, 'createwallet', ['wire passphrase'])
  await r.call(a, 'createwallet', ['again'])
  await r.call(a, 'getwalletinfo')
  const own = await onA('getnewaddress')
  const miner = newKey()
  const [first] = await onA('generate', [1])
  await r.call(a, 'generate', [regtest.coinbaseMaturity, miner.address])
  await r.call(a, 'getbalance')
  await r.call(a, 'listunspent')
  await r.call(a, 'sendtoaddress', [miner.address, '1'])
  await r.call(a, 'walletpassphrase', ['wrong', 60])
  await r.call(a, 'walletpassphrase', ['wire passphrase', 600])
  await r.call(a, 'getwalletinfo')
  const other = newKey().address
  const paid = await onA('sendtoaddress', [other, '2.5'])
  // History lists the newest first, ties in the order received: a second between the two sends fixes their order.
  const sentAt = Math.floor(Date.now() / 1000)
  await waitFor(() => Math.floor(Date.now() / 1000) > sentAt, 'the clock to pass the second of the first send')
  const self = await onA('sendtoaddress', [own, 1, 3])
  await r.call(a, 'sendtoaddress', [other, '100000'])
  await r.call(a, 'sendtoaddress', ['nonsense', '1'])
  const raw = await spendCoinbase(a.chain, 2, miner, newKey().addressHash)
  await r.call(a, 'sendrawtransaction', [toHex(raw.bytes)])
  await r.call(a, 'sendrawtransaction', [toHex(raw.bytes)])
  await r.call(a, 'sendrawtransaction', ['zz'])
  await r.call(a, 'getrawmempool')
  await r.call(a, 'getmempoolinfo')
  await r.call(a, 'getrawtransaction', [paid])
  await r.call(a, 'getrawtransaction', [paid, true])
  await r.call(a, 'gettransaction', [paid])
  await r.call(a, 'gettransaction', [self])
  await r.call(a, 'listtransactions')
  await r.call(a, 'getbalance')
  await r.call(a, 'getblocktemplate')
  await r.call(a, 'getblocktemplate', [miner.address])
  await r.call(a, 'getmininginfo')
  // The hash rate's figures come from the blocks' times.
  await r.call(a, 'getnetworkhashps', [], { varyingNumbers: true })
  await r.call(a, 'getnetworkhashps', [5, 10], { varyingNumbers: true })
  await r.call(a, 'getnetworkhashps', [5, 9999])
  const [mined] = await onA('generate', [1, miner.address])
  await r.call(a, 'gettransaction', [paid])
  await r.call(a, 'getrawtransaction', [paid, true, mined])
  await r.call(a, 'getrawtransaction', [paid, true, first])
  await r.call(a, 'getblock', [mined])
  await r.call(a, 'getblockheader', [mined])
  await r.call(a, 'getblockheader', [first])
  const coinbase = (await a.chain.getBlock(a.chain.getEntryAt(1)?.id ?? assert.fail('no block 1')))?.txs[0].idString
  await r.call(a, 'gettransaction', [coinbase])
  await r.call(a, 'getrawtransaction', [coinbase, true])
  await r.call(a, 'listtransactions')
  await r.call(a, 'listunspent')
  await r.call(a, 'getbalance')
  await r.call(a, 'getblockchaininfo')
  await r.call(a, 'gettxoutsetinfo')
  await r.call(a, 'verifychain')
  await r.call(a, 'getchainstats')
  await r.call(a, 'getarrivals', [[mined, paid, 'unknown']], { varyingNumbers: true })
  await r.call(a, 'getarrivals', ['not a list'])
  await r.call(a, 'savemempool')

  // A block submitted from outside, and a side block.
  const parent = a.chain.tip
  const next = mineBlockOn(a.chain, parent)
  await r.call(a, 'submitblock', [toHex(next.encode())])
  await r.call(a, 'submitblock', [toHex(next.encode())])
  await r.call(a, 'submitblock', [toHex(mineBlockOn(a.chain, parent).encode())])
  await r.call(a, 'submitblock', ['00'])
  await r.call(a, 'getchainstats')

  await r.call(a, 'validateaddress', [other])
  await r.call(a, 'validateaddress', [other.slice(0, -1) + (other.endsWith('q') ? 'p' : 'q')])
  await r.call(a, 'validateaddress', ['coin1qqqq'])
  await r.call(a, 'backupwallet', [join(tmp, 'wallet-copy.json')])
  await r.call(a, 'backupwallet', ['relative.json'])
  await r.call(a, 'walletpassphrasechange', ['not it', 'new'])
  await r.call(a, 'walletpassphrasechange', ['wire passphrase', 'new'])
  await r.call(a, 'walletlock')
  await r.call(a, 'getwalletinfo')

  // Peers and bans.
  await waitFor(() => b.chain.height === a.chain.height, 'b to sync a\'s chain')
  await waitFor(async () => (await a.p2p?.peerInfo())?.[0]?.height === a.chain.height, 'a to hear b\'s height')
  await r.call(a, 'getpeerinfo')
  await r.call(a, 'getnetworkinfo')
  await r.call(a, 'getconnectioncount')
  const peerB = b.p2p?.libp2p.peerId.toString() ?? assert.fail('b has no peer id')
  await r.call(a, 'setban', [peerB, 'add'])
  await r.call(a, 'setban', [peerB, 'add', 3600])
  await r.call(a, 'setban', ['10.1.0.0/16', 'add', 4_000_000_000, true])
  await r.call(a, 'setban', ['2001:db8::/48', 'add', 60])
  await r.call(a, 'setban', ['10.1.0.0/16', 'add', 1000, true])
  await r.call(a, 'setban', ['not a target', 'add'])
  await r.call(a, 'setban', [peerB, 'toggle'])
  await r.call(a, 'listbanned')
  await r.call(a, 'setban', [peerB, 'remove'])
  await r.call(a, 'setban', [peerB, 'remove'])
  await r.call(a, 'setban', ['2001:db8::/48', 'remove'])
  await r.call(a, 'listbanned')
  await r.call(a, 'clearbanned')
  await r.call(a, 'listbanned')
  await r.call(a, 'addnode', ['not a multiaddr'])
  await r.call(a, 'addnode', [addrOf(b)])
  await waitFor(async () => (await a.p2p?.peerInfo())?.length === 1, 'a to dial b again')
  await r.call(a, 'disconnectnode', ['nope'])
  await r.call(a, 'disconnectnode', [peerB])
  await r.call(a, 'uptime', [], { varyingNumbers: true })

  // A restored wallet on the other node (its addresses are the mnemonic's).
  await r.call(b, 'restorewallet', [MNEMONIC, 'restored'])
  await waitFor(() => b.wallet.info().scanning === false, 'b\'s wallet to finish its scan')
  await r.call(b, 'getwalletinfo')
  await r.call(b, 'getnewaddress')
  await r.call(b, 'stop')

  // One line a call and one its reply: a change of the wire reads as a diff of the fixture.
  const recorded = r.exchanges.flatMap(e => [`> ${e.call}`, `< ${e.reply}`])
  if (process.env.COINTS_RECORD_WIRE === '1') {
    await writeFile(FIXTURE, recorded.join('\n') + '\n')
    return
  }
  const expected = (await readFile(FIXTURE, 'utf8')).split('\n').slice(0, -1)
  for (let i = 0; i < Math.max(expected.length, recorded.length); i += 2) {
    assert.deepEqual(recorded.slice(i, i + 2), expected.slice(i, i + 2), `reply ${i / 2 + 1} of ${expected.length / 2}`)
  }
})
