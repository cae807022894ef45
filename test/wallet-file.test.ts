import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Wallet, WALLET_FILE } from '../src/wallet/wallet.ts'
import { WalletError } from '../src/wallet/errors.ts'
import { openChain, regtest } from './helpers/chain-harness.ts'
import { createLogger, setLogLevel } from '../src/log.ts'

setLogLevel('silent')

test('a wallet file whose fields pass as JSON but cannot be used is refused on start as CORRUPT_WALLET_FILE', async t => {
  const { chain, ws } = await openChain(t)
  const datadir = ws.dbPath('wallet')
  const walletOf = (): Wallet => new Wallet({ chain, logger: createLogger('wallet') }, { datadir, params: regtest, defaultFeeRate: 1, kdf: { N: 1 << 10, r: 8, p: 1 } })
  await mkdir(datadir, { recursive: true })
  const created = walletOf()
  await created.create('passphrase')
  created.stop()
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
  restarted.stop()
})
