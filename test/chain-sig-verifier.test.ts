import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { SignatureVerifier, type SignatureVerifierInit } from '../src/chain/sig-verifier.ts'
import { Tx } from '../src/core/tx.ts'
import { chainTag } from '../src/core/params.ts'
import { sigChecksOf, type SigCheck } from '../src/core/rules.ts'
import { newKey, regtest, spendTx } from './helpers/chain-harness.ts'

const tag = chainTag(regtest)

/** Signature checks of `count` two-input transactions (each input of its own key). */
function checksOf (count: number): SigCheck[][] {
  return Array.from({ length: count }, (_, n) => {
    const key = newKey()
    const funding = Tx.create({ version: 1, height: 1000 + n, inputs: [], outputs: [{ amount: 10n, address: key.addressHash }, { amount: 20n, address: key.addressHash }] })
    const tx = spendTx({ chainTag: tag }, [{ txid: funding.id, index: 0, amount: 10n }, { txid: funding.id, index: 1, amount: 20n }], key, { fee: 1n })
    return sigChecksOf(tx, tag)
  })
}

function corrupt (check: SigCheck): SigCheck {
  const sig = new Uint8Array(check.sig)
  sig[5] ^= 0x40
  return { ...check, sig }
}

async function startVerifier (t: TestContext, init: SignatureVerifierInit): Promise<SignatureVerifier> {
  const verifier = new SignatureVerifier(init)
  t.after(async () => { await verifier.stop() })
  await verifier.warmUp()
  return verifier
}

for (const threads of [2, 0]) {
  const path = threads === 0 ? 'on the calling thread' : 'on worker threads'
  test(`${path}: many valid signatures verify, and are cached per transaction`, async t => {
    const verifier = await startVerifier(t, { threads })
    const checks = checksOf(6).flat()
    assert.equal(checks.length, 12)
    assert.equal(await verifier.verifyAll(checks), true)
    assert.equal(verifier.cached, 6)
    assert.equal(await verifier.verifyAll([]), true)
  })

  test(`${path}: one bad signature among many fails the batch, wherever it is, and caches nothing`, async t => {
    const verifier = await startVerifier(t, { threads })
    const batches = checksOf(5)
    const checks = batches.flat()
    for (const at of [0, 5, checks.length - 1]) {
      const bad = checks.map((c, i) => i === at ? corrupt(c) : c)
      assert.equal(await verifier.verifyAll(bad), false, `bad signature at ${at}`)
      assert.equal(verifier.cached, 0)
    }
    const wrongKey = checks.map((c, i) => i === 7 ? { ...c, pubkey: checks[0].pubkey } : c)
    assert.equal(await verifier.verifyAll(wrongKey), false)
    const malformed = checks.map((c, i) => i === 3 ? { ...c, pubkey: new Uint8Array(33) } : c)
    assert.equal(await verifier.verifyAll(malformed), false, 'a malformed key is an invalid signature, not a crash')
    assert.equal(verifier.cached, 0)
    assert.equal(await verifier.verifyAll(checks), true)
    assert.equal(verifier.cached, 5)
  })
}

test('checks beyond one message go out in chunks: a bad one in the last chunk fails them all', async t => {
  const verifier = await startVerifier(t, { threads: 2 })
  const checks = checksOf(300).flat()
  const bad = checks.map((c, i) => i === checks.length - 2 ? corrupt(c) : c)
  assert.equal(await verifier.verifyAll(bad), false)
  assert.equal(verifier.cached, 0)
  // Produced lazily, as a block's are: every chunk is verified and every transaction cached.
  assert.equal(await verifier.verifyAll(checks.values()), true)
  assert.equal(verifier.cached, 300)
})

test('a cached transaction is not verified again', async t => {
  const verifier = await startVerifier(t, { threads: 2 })
  const checks = checksOf(5).flat()
  assert.equal(await verifier.verifyAll(checks), true)
  assert.equal(verifier.cached, 5)
  // Same txids with broken signatures: only a cache hit can pass them, so a pass proves the skip.
  // (A txid commits to its signatures, so in the chain this pairing never occurs.)
  assert.equal(await verifier.verifyAll(checks.map(corrupt)), true)
  assert.equal(verifier.cached, 5)
  // A batch mixing cached and new transactions verifies only the new ones.
  const fresh = checksOf(3).flat()
  assert.equal(await verifier.verifyAll([...checks.map(corrupt), ...fresh]), true)
  assert.equal(verifier.cached, 8)
  assert.equal(await verifier.verifyAll([...checks, corrupt(checksOf(1).flat()[0])]), false)
})

test('concurrent batches on the workers each get their own answer', async t => {
  const verifier = await startVerifier(t, { threads: 2 })
  const batches = Array.from({ length: 8 }, () => checksOf(3).flat())
  const results = await Promise.all(batches.map(async (b, n) => await verifier.verifyAll(n % 3 === 1 ? [...b.slice(1), corrupt(b[0])] : b)))
  assert.deepEqual(results, batches.map((_, n) => n % 3 !== 1))
})

test('the cache is bounded, dropping the oldest transactions', async t => {
  const verifier = await startVerifier(t, { threads: 1, cacheSize: 3 })
  const txs = checksOf(5)
  for (const checks of txs) assert.equal(await verifier.verifyAll(checks), true)
  assert.equal(verifier.cached, 3)
  // The newest is still cached (a corrupted copy passes); the oldest is not (it fails).
  assert.equal(await verifier.verifyAll(txs[4].map(corrupt)), true)
  assert.equal(await verifier.verifyAll(txs[0].map(corrupt)), false)
})

test('after stop, verification carries on on the calling thread', async t => {
  const verifier = await startVerifier(t, { threads: 2 })
  await verifier.stop()
  const checks = checksOf(5).flat()
  assert.equal(await verifier.verifyAll([...checks.slice(1), corrupt(checks[0])]), false)
  assert.equal(await verifier.verifyAll(checks), true)
  await verifier.warmUp()
  assert.equal(verifier.running, 0, 'no thread starts again after stop')
})

test('workers start with the first signature to verify, not before', async t => {
  const verifier = new SignatureVerifier({ threads: 2 })
  t.after(async () => { await verifier.stop() })
  // A block of coinbases only: nothing to verify, no threads started.
  assert.equal(await verifier.verifyAll([]), true)
  assert.equal(verifier.running, 0)
  assert.equal(await verifier.verifyAll(checksOf(1).flat()), true)
  assert.equal(verifier.running, 2)
})
