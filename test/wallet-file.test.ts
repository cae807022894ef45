import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Wallet, WALLET_FILE } from '../src/wallet/wallet.ts'
import { WalletError } from '../src/wallet/errors.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import { hash160 } from '../src/core/hash.ts'
import { accountKey, AddressDeriver, Branch, newMnemonic } from '../src/wallet/hd.ts'
import { BranchBuilder, mineBlocks, openChain, regtest } from './helpers/chain-harness.ts'
import { walletIn } from './helpers/wallet-harness.ts'

test('a wallet file whose fields pass as JSON but cannot be used is refused on start as CORRUPT_WALLET_FILE', async t => {
  const { chain, ws } = await openChain(t)
  const datadir = ws.dbPath('wallet')
  const walletOf = (): Wallet => walletIn(chain, datadir)
  await mkdir(datadir, { recursive: true })
  const created = walletOf()
  await created.create('passphrase')
  await created.stop()
  const path = join(datadir, WALLET_FILE)
  const good = JSON.parse(await readFile(path, 'utf8'))

  const damaged: Array<[string, (f: typeof good) => void]> = [
    ['an extended key that does not decode', f => { f.xpub = 'xpub' + 'x'.repeat(107) }],
    ['a tag of the wrong length', f => { f.cipher.tag = f.cipher.tag.slice(2) }],
    ['an odd number of hex digits', f => { f.cipher.iv = f.cipher.iv.slice(1) }],
    ['a scrypt N that is not a power of two', f => { f.kdf.N = 1_000 }],
    ['a scrypt N that would take gigabytes', f => { f.kdf.N = 2 ** 30 }]
  ]
  for (const [what, damage] of damaged) {
    const file = structuredClone(good)
    damage(file)
    await writeFile(path, JSON.stringify(file))
    await assert.rejects(walletOf().start(), (err: unknown) => err instanceof WalletError && err.code === 'CORRUPT_WALLET_FILE', what)
  }
  await writeFile(path, JSON.stringify(good))
  const restarted = walletOf()
  await restarted.start()
  assert.equal(restarted.exists, true)
  await restarted.unlock('passphrase', 10)
  await restarted.stop()
})

test('a restore whose rescan meets a reorganisation scans the changed height again: no coin of the branch that left', async t => {
  const { chain, ws } = await openChain(t)
  const walletAt = async (name: string): Promise<Wallet> => {
    const datadir = ws.dbPath(name)
    await mkdir(datadir, { recursive: true })
    const wallet = walletIn(chain, datadir)
    ws.stopAfter(wallet)
    return wallet
  }
  const original = await walletAt('original')
  const mnemonic = await original.create('passphrase')
  const paid = await original.newAddress()
  await original.stop()
  const [staying, leaving] = await mineBlocks(chain, ws.clock, 2, paid.hash)
  // A heavier branch from height 1 that pays someone else, held back until the rescan reads height 2.
  const branch = BranchBuilder.on(chain, chain.getEntryAt(1) as BlockEntry)
  const heavier = [branch.next(), branch.next()]

  const read = chain.getBlocks.bind(chain)
  let reorganised = false
  chain.getBlocks = async ids => {
    const blocks = await read(ids)
    if (!reorganised && ids.some(id => id.equals(leaving.id))) {
      reorganised = true
      for (const b of heavier) await chain.processBlock(b)
    }
    return blocks
  }
  const restored = await walletAt('restored')
  await restored.restore(mnemonic, 'passphrase')
  assert.ok(reorganised, 'the chain reorganised while the scan read height 2')
  assert.equal(chain.getEntryAt(2)?.idString, heavier[0].idString)
  const txids = (await restored.transactions()).map(row => row.txid)
  assert.ok(!txids.includes(leaving.txs[0].idString), 'the coinbase of the block that left the chain is not the wallet\'s')
  assert.deepEqual((await restored.coins()).map(coin => coin.key), [`${staying.txs[0].idString}:0`], 'only the coinbase at height 1, on both branches')
})

test('addresses derived on libsecp256k1 are the ones @scure/bip32 derives', () => {
  const account = accountKey(newMnemonic(), regtest)
  const deriver = new AddressDeriver(account.publicExtendedKey, regtest)
  for (const branch of [Branch.RECEIVE, Branch.CHANGE]) {
    for (const index of [0, 1, 19, 20, 1_000, 2 ** 31 - 1]) {
      const expected = account.deriveChild(branch).deriveChild(index).publicKey as Uint8Array
      assert.deepEqual(deriver.derive(branch, index).hash, hash160(expected), `branch ${branch}, index ${index}`)
    }
  }
})
