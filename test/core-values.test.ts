import { test } from 'node:test'
import { hash as nodeHash, randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { decodeAddress, encodeAddress } from '../src/core/address.ts'
import { formatAmount, MAX_MONEY, parseAmount } from '../src/core/amount.ts'
import { DecodeError } from '../src/core/errors.ts'
import { hash160, toHex } from '../src/core/hash.ts'
import { hash160OneBlock, ONE_BLOCK_MAX } from '../src/core/hash160.ts'

test('amounts are decimal strings of coins: exact both ways, strict on input', () => {
  assert.equal(formatAmount(150_000_000n), '1.5')
  assert.equal(formatAmount(1n), '0.00000001')
  assert.equal(formatAmount(0n), '0')
  for (const text of ['0', '1', '1.5', '0.00000001', '21000000']) assert.equal(formatAmount(parseAmount(text)), text)
  assert.equal(parseAmount('21000000'), MAX_MONEY)
  for (const bad of [1.5, '1.123456789', '-1', '1e3', '', ' 1', '21000000.00000001', '0x10', null]) {
    assert.throws(() => parseAmount(bad), DecodeError, `${String(bad)} must be refused`)
  }
})

test('addresses: bech32m with the network prefix; a typo or another network is refused', () => {
  const hash = Uint8Array.from({ length: 20 }, (_, i) => i)
  const address = encodeAddress('rcoin', hash)
  assert.deepEqual(decodeAddress('rcoin', address), hash)
  const typo = address.slice(0, -3) + (address.at(-3) === 'q' ? 'p' : 'q') + address.slice(-2)
  assert.throws(() => decodeAddress('rcoin', typo), /BAD_ADDRESS.*checksum/i)
  assert.throws(() => decodeAddress('coin', address), /prefix rcoin/)
  assert.throws(() => decodeAddress('rcoin', 42), DecodeError)
})

test('hash160 in JavaScript equals RIPEMD-160 of SHA-256 through OpenSSL, for every one-block length', () => {
  // Published vector: hash160 of the empty string.
  assert.equal(toHex(hash160(new Uint8Array(0))), 'b472a266d0bd89c13706a4132ccfb16f7c3b9fcb')
  for (let length = 0; length <= ONE_BLOCK_MAX + 1; length++) {
    for (let n = 0; n < 20; n++) {
      const data = new Uint8Array(randomBytes(length))
      const expected = nodeHash('ripemd160', nodeHash('sha256', data, 'buffer'), 'hex')
      assert.equal(toHex(hash160(data)), expected, `${length} bytes`)
    }
  }
  assert.throws(() => hash160OneBlock(new Uint8Array(ONE_BLOCK_MAX + 1)), RangeError)
})
