import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { COIN, parseAmount } from '../src/core/amount.ts'
import { RpcCallError } from '../src/rpc/client.ts'
import { WALLET_FILE } from '../src/wallet/wallet.ts'
import { addrOf, newKey, regtest, rejectsWith, rpc, startNode, waitFor, waitForSameTip } from './helpers/node-harness.ts'
import type { CointsNode } from '../src/node/node.ts'

/** An address of no wallet here, for blocks whose reward must not count. */
const elsewhere = newKey().address

interface Balance { confirmed: string, unconfirmed: string, immature: string }

const balance = async (node: CointsNode): Promise<Balance> => await rpc(node, 'getbalance')

test('mine to a wallet, send to another, restore from the mnemonic; bad input changes nothing', async t => {
  const alice = await startNode(t)
  const bob = await startNode(t, { bootstrap: [addrOf(alice)] })
  const { mnemonic, address } = await rpc(alice, 'createwallet', ['alice passphrase'])
  assert.equal(mnemonic.split(' ').length, 24)
  assert.match(address, /^rcoin1/)
  await rpc(bob, 'createwallet', ['bob passphrase'])
  const bobAddress = await rpc(bob, 'getnewaddress')

  // Two blocks to alice, then enough for the first to mature: 50 spendable, 50 still immature.
  await rpc(alice, 'generate', [2])
  await rpc(alice, 'generate', [regtest.coinbaseMaturity - 2, elsewhere])
  assert.deepEqual(await balance(alice), { confirmed: '50', unconfirmed: '0', immature: '50' })

  await rejectsWith(rpc(alice, 'sendtoaddress', [bobAddress, '1']), 'WALLET_LOCKED')
  await rejectsWith(rpc(alice, 'walletpassphrase', ['not the passphrase', 60]), 'WRONG_PASSPHRASE')
  await rpc(alice, 'walletpassphrase', ['alice passphrase', 60])

  // Each bad request is refused with its own code and leaves the wallet file and balance as they were.
  const walletFile = join(alice.options.datadir, WALLET_FILE)
  const before = await readFile(walletFile)
  const typo = bobAddress.slice(0, -1) + (bobAddress.endsWith('q') ? 'p' : 'q')
  await rejectsWith(rpc(alice, 'sendtoaddress', [typo, '1']), 'BAD_ADDRESS')
  await rejectsWith(rpc(alice, 'sendtoaddress', [bobAddress, '75']), 'INSUFFICIENT_FUNDS')
  for (const amount of ['1.123456789', '-1', 'abc', 1.5, '']) await rejectsWith(rpc(alice, 'sendtoaddress', [bobAddress, amount]), 'BAD_AMOUNT')
  assert.deepEqual(await readFile(walletFile), before)
  assert.deepEqual(await balance(alice), { confirmed: '50', unconfirmed: '0', immature: '50' })

  const txid = await rpc(alice, 'sendtoaddress', [bobAddress, '12.5'])
  await waitFor(() => bob.mempool.has(txid), 'the payment to reach bob\'s mempool')
  assert.deepEqual(await balance(bob), { confirmed: '0', unconfirmed: '12.5', immature: '0' })
  const pending = await balance(alice)
  assert.equal(pending.confirmed, '0')
  assert.ok(Number(pending.unconfirmed) > 37 && Number(pending.unconfirmed) < 37.5, `change ${pending.unconfirmed}`)

  await rpc(bob, 'generate', [1, elsewhere])
  await waitForSameTip([alice, bob], regtest.coinbaseMaturity + 1)
  assert.deepEqual(await balance(bob), { confirmed: '12.5', unconfirmed: '0', immature: '0' })
  const aliceAfter = await balance(alice)
  // The change confirmed, and the second coinbase matured with that block.
  assert.equal(parseAmount(aliceAfter.confirmed), parseAmount(pending.unconfirmed) + 50n * COIN)
  assert.equal(aliceAfter.immature, '0')
  const bobHistory = await rpc(bob, 'listtransactions')
  assert.deepEqual(bobHistory.map(h => [h.txid, h.category, h.amount, h.confirmations]), [[txid, 'receive', '12.5', 1]])
  const aliceHistory = await rpc(alice, 'listtransactions')
  const sent = aliceHistory.find(h => h.txid === txid)
  assert.equal(sent?.category, 'send')
  assert.equal(Number(sent?.amount), -(12.5 + Number(sent?.fee)))

  // The same mnemonic on a new datadir finds the same coins.
  const carol = await startNode(t, { bootstrap: [addrOf(alice)] })
  await waitForSameTip([alice, carol], regtest.coinbaseMaturity + 1)
  await rejectsWith(rpc(carol, 'restorewallet', ['abandon abandon abandon', 'x']), 'BAD_MNEMONIC')
  await rpc(carol, 'restorewallet', [mnemonic, 'carol passphrase'])
  assert.deepEqual(await balance(carol), aliceAfter)
  assert.equal((await rpc(carol, 'listtransactions')).length, aliceHistory.length)
})

test('a reorganisation makes a confirmed wallet transaction unconfirmed again', async t => {
  const node = await startNode(t)
  await rpc(node, 'createwallet', ['pass'])
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 1])
  await rpc(node, 'walletpassphrase', ['pass', 60])
  const other = await startNode(t)
  await rpc(other, 'createwallet', ['pass'])
  const to = await rpc(other, 'getnewaddress')
  const txid = await rpc(node, 'sendtoaddress', [to, '3'])
  const forkHeight = node.chain.height
  await rpc(node, 'generate', [1, to])
  assert.equal((await rpc(node, 'listtransactions')).find(h => h.txid === txid)?.confirmations, 1)

  // A heavier branch without the payment, mined on a node that never saw it.
  const rival = await startNode(t)
  for (let h = 1; h <= forkHeight; h++) {
    const block = await node.chain.getBlock(node.chain.getEntryAt(h)!.id)
    await rival.chain.processBlock(block!)
  }
  await rpc(rival, 'generate', [2, to])
  await rpc(node, 'addnode', [addrOf(rival)])
  await waitForSameTip([node, rival], forkHeight + 2)
  const row = (await rpc(node, 'listtransactions')).find(h => h.txid === txid)
  assert.equal(row?.confirmations, 0)
  assert.ok(node.mempool.has(txid))
})

test('two sends at once spend different coins: both are accepted', async t => {
  const alice = await startNode(t)
  await rpc(alice, 'createwallet', ['alice passphrase'])
  await rpc(alice, 'generate', [2])
  await rpc(alice, 'generate', [regtest.coinbaseMaturity, elsewhere])
  assert.equal((await balance(alice)).confirmed, '100')
  await rpc(alice, 'walletpassphrase', ['alice passphrase', 60])
  // Each call on its own HTTP connection, so the node handles them at once.
  const txids = await Promise.all([rpc(alice, 'sendtoaddress', [elsewhere, '40']), rpc(alice, 'sendtoaddress', [elsewhere, '40'])])
  assert.notEqual(txids[0], txids[1])
  for (const txid of txids) assert.equal(alice.mempool.has(txid), true)
})

test('templates for an external miner pay one wallet address until a block pays it', async t => {
  const node = await startNode(t)
  await rpc(node, 'createwallet', ['passphrase'])
  const receiveIndex = async (): Promise<number> => (await rpc(node, 'getwalletinfo')).receive_index
  const before = await receiveIndex()
  for (let i = 0; i < 5; i++) await rpc(node, 'getblocktemplate')
  assert.equal(await receiveIndex(), before + 1, 'polling templates uses up one address, not one a poll')
  await rpc(node, 'generate', [1])
  assert.equal(await receiveIndex(), before + 1, 'the block paid the same address')
  await rpc(node, 'getblocktemplate')
  assert.equal(await receiveIndex(), before + 2, 'once a block paid it, the next template pays a new one')
})

test('a payment that would chain unconfirmed change past the mempool\'s limit pays from a confirmed coin instead, else says to wait for a confirmation', async t => {
  const node = await startNode(t)
  await rpc(node, 'createwallet', ['pass'])
  await rpc(node, 'generate', [1])
  await rpc(node, 'generate', [regtest.coinbaseMaturity - 1, elsewhere])
  await rpc(node, 'walletpassphrase', ['pass', 600])
  // A confirmed coin of 1 beside the change of 49: the largest coin pays first, so the change is what chains.
  const self = await rpc(node, 'sendtoaddress', [await rpc(node, 'getnewaddress'), '1'])
  await rpc(node, 'generate', [1, elsewhere])
  assert.equal(node.mempool.size, 0)
  for (let n = 0; n < 25; n++) await rpc(node, 'sendtoaddress', [elsewhere, '0.1'])
  assert.equal(node.mempool.size, 25)
  // The 26th would be the change's 26th unconfirmed transaction in a row: the coin of 1 pays.
  const txid = await rpc(node, 'sendtoaddress', [elsewhere, '0.1'])
  assert.deepEqual(node.mempool.get(txid)?.tx.data.inputs.map(i => [i.prev.txid.toString(), i.prev.index]), [[self, 0]])
  // Then only unconfirmed change is left.
  await assert.rejects(rpc(node, 'sendtoaddress', [elsewhere, '0.1']), (err: unknown) => {
    assert.ok(err instanceof RpcCallError, String(err))
    assert.equal(err.code, 'UNCONFIRMED_CHAIN_TOO_LONG')
    assert.match(err.message, /limit of 25 unconfirmed transactions .* wait for a confirmation/)
    return true
  })
  assert.equal(node.mempool.size, 26)
  await rpc(node, 'generate', [1, elsewhere])
  await rpc(node, 'sendtoaddress', [elsewhere, '0.1'])
})
