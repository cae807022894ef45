import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Wallet, WALLET_FILE } from '../src/wallet/wallet.ts'
import { WalletError } from '../src/wallet/errors.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import { accountKey, AddressDeriver, Branch, newMnemonic } from '../src/wallet/hd.ts'
import { BranchBuilder, mineBlocks, openChain, regtest } from './helpers/chain-harness.ts'
import { walletIn } from './helpers/wallet-harness.ts'
import { HDKey } from '@scure/bip32'
import { encodeAddress } from '../src/core/address.ts'
import { fromHex, hash160 } from '../src/core/hash.ts'

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

test('a BIP39 passphrase on restore gives the addresses any BIP39/BIP84 wallet derives from the same words and passphrase; it is kept, encrypted, for signing', async t => {
  const { chain, ws } = await openChain(t)
  const datadir = ws.dbPath('trezor')
  await mkdir(datadir, { recursive: true })
  const words = `${Array(11).fill('abandon').join(' ')} about`
  // BIP39's published seed of these words under the passphrase "TREZOR"; m/84'/1'/0'/0/0 is its first regtest receiving key.
  const seed = fromHex('c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04')
  const key = HDKey.fromMasterSeed(seed).derive("m/84'/1'/0'/0/0").publicKey as Uint8Array
  const expected = encodeAddress(regtest.addressPrefix, hash160(key))

  const restored = walletIn(chain, datadir)
  await restored.restore(words, 'file passphrase', 'TREZOR')
  const first = await restored.newAddress()
  assert.equal(first.address, expected)
  await restored.stop()
  const plain = walletIn(chain, ws.dbPath('plain'))
  await mkdir(ws.dbPath('plain'), { recursive: true })
  await plain.restore(words, 'file passphrase')
  assert.notEqual((await plain.newAddress()).address, expected, 'the same words without the passphrase are another wallet')
  await plain.stop()
  assert.doesNotMatch(await readFile(join(datadir, WALLET_FILE), 'utf8'), /TREZOR/, 'the BIP39 passphrase is stored encrypted')

  // After a restart, the unlocked keys are the passphrase's: coins of the first address can be spent.
  await mineBlocks(chain, ws.clock, regtest.coinbaseMaturity + 1, first.hash)
  const reopened = walletIn(chain, datadir)
  t.after(async () => { await reopened.stop() })
  await reopened.start()
  await reopened.unlock('file passphrase', 10)
  const txid = await reopened.send(first.address, 1n)
  assert.ok(chain.mempool.has(txid))
  const fresh = walletIn(chain, ws.dbPath('long'))
  await mkdir(ws.dbPath('long'), { recursive: true })
  await assert.rejects(fresh.restore(words, 'x', 'y'.repeat(513)), (err: unknown) => err instanceof WalletError && err.code === 'BAD_PASSPHRASE')
})
