/**
 * The methods bitcoind users reach for, each against the shape of Bitcoin
 * Core's result (amounts as decimal strings, ids as CIDs: coints's own).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeAddress } from '../src/core/address.ts'
import { Header } from '../src/core/block.ts'
import { fromHex } from '../src/core/hash.ts'
import { RpcCallError } from '../src/rpc/client.ts'
import { WALLET_FILE } from '../src/wallet/wallet.ts'
import { mineBlockOn } from './helpers/chain-harness.ts'
import { addrOf, newKey, regtest, rpc, startNode, waitFor } from './helpers/node-harness.ts'

async function rejectsWith (call: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => err instanceof RpcCallError && err.code === code)
}

test('getblockcount, getbestblockhash, getblockheader and getblockchaininfo as bitcoind\'s', async t => {
  const node = await startNode(t, { p2p: false })
  const fresh = await rpc(node, 'getblockchaininfo')
  assert.equal(fresh.initialblockdownload, true, 'a tip as old as the genesis time: still in initial block download')
  const ids = await rpc(node, 'generate', [3, newKey().address])
  assert.equal(await rpc(node, 'getblockcount'), 3)
  assert.equal(await rpc(node, 'getbestblockhash'), ids[2])

  const middle = await rpc(node, 'getblockheader', [ids[1]])
  const block = await node.chain.getBlock(node.chain.getEntryAt(2)?.id ?? assert.fail('no block 2'))
  const times = [0, 1, 2].map(h => node.chain.getEntryAt(h)?.time as number).sort((a, b) => a - b)
  assert.deepEqual(middle, {
    hash: ids[1],
    confirmations: 2,
    height: 2,
    version: 1,
    merkleroot: block?.header.data.txs.toString(),
    time: block?.header.data.time,
    mediantime: times[1],
    nonce: Buffer.from(block?.header.data.nonce ?? []).toString('hex'),
    bits: regtest.powLimitBits.toString(16),
    difficulty: 1,
    chainwork: node.chain.getEntryAt(2)?.chainwork.toString(16).padStart(64, '0'),
    nTx: 1,
    previousblockhash: ids[0],
    nextblockhash: ids[2],
    status: 'active'
  })
  const tipHeader = await rpc(node, 'getblockheader', [ids[2]])
  assert.equal(tipHeader.confirmations, 1)
  assert.equal(tipHeader.nextblockhash, undefined, 'the tip has no next block')
  const hex = await rpc(node, 'getblockheader', [ids[2], false])
  assert.equal(Header.fromBytes(fromHex(hex)).idString, ids[2])
  // A valid block off the best chain: -1 confirmations, as Core.
  const side = mineBlockOn(node.chain, node.chain.getEntryAt(2) ?? assert.fail('no block 2'))
  assert.equal((await node.chain.processBlock(side)).status, 'side')
  assert.equal((await rpc(node, 'getblockheader', [side.idString])).confirmations, -1)
  await rejectsWith(rpc(node, 'getblockheader', ['bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje']), 'NOT_FOUND')

  const info = await rpc(node, 'getblockchaininfo')
  assert.equal(info.chain, 'regtest')
  assert.equal(info.blocks, 3)
  assert.equal(info.headers, 3)
  assert.equal(info.bestblockhash, ids[2])
  assert.equal(info.verificationprogress, 1)
  assert.equal(info.initialblockdownload, false, 'a tip mined now ends initial block download')
  assert.equal(info.chainwork, tipHeader.chainwork)
  assert.equal(info.mediantime, tipHeader.mediantime)
  assert.equal(info.pruned, false)
  assert.ok(typeof info.size_on_disk === 'number' && info.size_on_disk > 0, `size_on_disk ${String(info.size_on_disk)}`)
})

test('getmininginfo and getnetworkhashps estimate the network hash rate from the last blocks\' work and times', async t => {
  const node = await startNode(t, { p2p: false })
  await rpc(node, 'generate', [20, newKey().address])
  const info = await rpc(node, 'getmininginfo')
  const first = node.chain.getEntryAt(1)
  const last = node.chain.tip
  const span = last.time - (first?.time as number)
  const expected = Number(last.chainwork - (first?.chainwork as bigint)) / span
  assert.deepEqual(info, { blocks: 20, difficulty: 1, networkhashps: expected, pooledtx: 0, chain: 'regtest', warnings: '', mining: false })
  assert.ok(expected > 0)
  assert.equal(await rpc(node, 'getnetworkhashps'), expected)
  assert.equal(await rpc(node, 'getnetworkhashps', [5, 10]), Number((node.chain.getEntryAt(10)?.chainwork as bigint) - (node.chain.getEntryAt(5)?.chainwork as bigint)) / ((node.chain.getEntryAt(10)?.time as number) - (node.chain.getEntryAt(5)?.time as number)))
  await rejectsWith(rpc(node, 'getnetworkhashps', [10, 999]), 'NOT_FOUND')
})

test('validateaddress, getconnectioncount, uptime, getnetworkinfo\'s version and help METHOD', async t => {
  const a = await startNode(t)
  const b = await startNode(t, { bootstrap: [addrOf(a)] })
  await waitFor(async () => await rpc(b, 'getconnectioncount') === 1, 'b to count its connection to a')
  assert.equal(await rpc(a, 'getconnectioncount'), 1)
  const network = await rpc(a, 'getnetworkinfo')
  assert.equal(network.version, 20_000)
  assert.equal(network.subversion, '/coints:0.2.0/')
  assert.equal(network.connections_in, 1)
  assert.equal(network.connections_out, 0)
  const uptime = await rpc(a, 'uptime')
  assert.ok(Number.isInteger(uptime) && uptime >= 0 && uptime < 600, `uptime ${uptime}`)

  const key = newKey()
  assert.deepEqual(await rpc(a, 'validateaddress', [key.address]), {
    isvalid: true, address: key.address, isscript: false, iswitness: true, witness_version: 0, witness_program: Buffer.from(key.addressHash).toString('hex')
  })
  const typo = await rpc(a, 'validateaddress', [key.address.slice(0, -1) + (key.address.endsWith('q') ? 'p' : 'q')])
  assert.equal(typo.isvalid, false)
  assert.match(typo.error ?? '', /checksum/)
  assert.match((await rpc(a, 'validateaddress', [newKey().address.replace('rcoin', 'coin')])).error ?? '', /checksum|prefix/)

  const help = await rpc(a, 'help')
  for (const heading of ['== Blockchain ==', '== Network ==', '== Wallet ==', '== Control ==']) assert.ok(help.includes(heading), heading)
  assert.match(help, /^getblockheader "id" \( verbose \)$/m)
  assert.match(help, /^getblockhash height$/m)
  const one = await rpc(a, 'help', ['getblockhash'])
  assert.match(one, /^getblockhash height\n\nId of the best-chain block at a height\.\n\nArguments:\n1\. height {2}\(integer, required, at least 0\)$/)
  await rejectsWith(rpc(a, 'help', ['nosuchmethod']), 'UNKNOWN_METHOD')
})

test('gettransaction, verbose getrawtransaction (addresses, blockhash, confirmations), backupwallet and walletpassphrasechange', async t => {
  const node = await startNode(t, { p2p: false })
  await rpc(node, 'createwallet', ['old passphrase'])
  const [coinbaseBlock] = await rpc(node, 'generate', [1])
  await rpc(node, 'generate', [regtest.coinbaseMaturity, newKey().address])
  await rpc(node, 'walletpassphrase', ['old passphrase', 60])
  const other = newKey().address
  const txid = await rpc(node, 'sendtoaddress', [other, '2.5'])

  const pending = await rpc(node, 'gettransaction', [txid])
  assert.equal(pending.amount, '-2.5', 'the amount sent, without the fee')
  assert.match(pending.fee ?? '', /^-0\.\d+$/)
  assert.equal(pending.confirmations, 0)
  assert.equal(pending.blockhash, undefined)
  assert.deepEqual(pending.details, [{ address: other, category: 'send', amount: '-2.5', vout: 0, fee: pending.fee }], 'the change is left out')
  assert.equal(pending.hex, await rpc(node, 'getrawtransaction', [txid]))
  const [mined] = await rpc(node, 'generate', [1, newKey().address])
  const confirmed = await rpc(node, 'gettransaction', [txid])
  assert.equal(confirmed.confirmations, 1)
  assert.equal(confirmed.blockhash, mined)
  assert.equal(confirmed.blockheight, regtest.coinbaseMaturity + 2)
  assert.equal(confirmed.blockindex, 1)
  assert.equal(confirmed.blocktime, node.chain.tip.time)

  const coinbaseBody = await node.chain.getBlock(node.chain.getEntryAt(1)?.id ?? assert.fail('no block 1'))
  const coinbaseId = coinbaseBody?.txs[0].idString as string
  const reward = await rpc(node, 'gettransaction', [coinbaseId])
  assert.equal(reward.generated, true)
  assert.equal(reward.blockhash, coinbaseBlock)
  const paid = encodeAddress(regtest.addressPrefix, coinbaseBody?.txs[0].data.outputs[0].address ?? new Uint8Array(20))
  assert.deepEqual(reward.details, [{ address: paid, category: 'generate', amount: '50', vout: 0 }])
  await rejectsWith(rpc(node, 'gettransaction', [node.chain.getEntryAt(2)?.idString ?? assert.fail('no block 2')]), 'NOT_FOUND')

  // Verbose getrawtransaction: encoded addresses, and the block found without a transaction index.
  const raw = await rpc(node, 'getrawtransaction', [txid, true])
  assert.deepEqual(raw.outputs[0], { n: 0, amount: '2.5', address: other })
  assert.match(raw.outputs[1].address, /^rcoin1q/)
  assert.equal(raw.blockhash, mined)
  assert.equal(raw.confirmations, 1)
  // The coinbase of block 1 is spent (by the send): the wallet still knows its block.
  const spent = await rpc(node, 'getrawtransaction', [coinbaseId, true])
  assert.equal(spent.blockhash, coinbaseBlock)
  assert.equal(spent.confirmations, regtest.coinbaseMaturity + 2)
  const given = await rpc(node, 'getrawtransaction', [txid, true, mined])
  assert.equal(given.in_active_chain, true)
  await rejectsWith(rpc(node, 'getrawtransaction', [txid, true, coinbaseBlock]), 'NOT_FOUND')

  // backupwallet: an absolute path (a directory gets wallet.json), never relative.
  const dir = await mkdtemp(join(tmpdir(), 'coints-backup-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  assert.equal(await rpc(node, 'backupwallet', [join(dir, 'copy.json')]), null)
  assert.deepEqual(await readFile(join(dir, 'copy.json')), await readFile(join(node.options.datadir, WALLET_FILE)))
  await rpc(node, 'backupwallet', [dir])
  assert.deepEqual(await readFile(join(dir, WALLET_FILE)), await readFile(join(node.options.datadir, WALLET_FILE)))
  await rejectsWith(rpc(node, 'backupwallet', ['relative.json']), 'BAD_PATH')
  await rejectsWith(rpc(node, 'backupwallet', [join(node.options.datadir, WALLET_FILE)]), 'BAD_PATH')

  await rejectsWith(rpc(node, 'walletpassphrasechange', ['not it', 'new passphrase']), 'WRONG_PASSPHRASE')
  assert.equal(await rpc(node, 'walletpassphrasechange', ['old passphrase', 'new passphrase']), null)
  await rejectsWith(rpc(node, 'walletpassphrase', ['old passphrase', 10]), 'WRONG_PASSPHRASE')
  await rpc(node, 'walletpassphrase', ['new passphrase', 10])
  // The backup taken before the change still opens with the old passphrase, on a node of its own.
  const restoredDir = await mkdtemp(join(tmpdir(), 'coints-backup-node-'))
  t.after(async () => { await rm(restoredDir, { recursive: true, force: true }) })
  await mkdir(restoredDir, { recursive: true })
  await copyFile(join(dir, 'copy.json'), join(restoredDir, WALLET_FILE))
  const fromBackup = await startNode(t, { p2p: false, datadir: restoredDir })
  await rpc(fromBackup, 'walletpassphrase', ['old passphrase', 10])
})
