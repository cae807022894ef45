import { test } from 'node:test'
import { hash as nodeHash, randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { decodeAddress, encodeAddress } from '../src/core/address.ts'
import { formatAmount, MAX_MONEY, parseAmount } from '../src/core/amount.ts'
import { DecodeError } from '../src/core/errors.ts'
import { fromHex, hash160, toHex } from '../src/core/hash.ts'
import { hash160OneBlock, ONE_BLOCK_MAX } from '../src/core/hash160.ts'
import { outpointKey, outpointKeyOfDigest, parseOutpointKey } from '../src/core/outpoint.ts'
import { cidOf } from '../src/core/cbor.ts'

test('amounts are decimal strings of coins: exact both ways, strict on input', () => {
  assert.equal(formatAmount(150_000_000n), '1.5')
  assert.equal(formatAmount(1n), '0.00000001')
  assert.equal(formatAmount(0n), '0')
  for (const text of ['0', '1', '1.5', '0.00000001', '21000000']) assert.equal(formatAmount(parseAmount(text)), text)
  assert.equal(parseAmount('21000000'), MAX_MONEY)
  for (const bad of [1.5, '1.123456789', '-1', '1e3', '', ' 1', '21000000.00000001', '0x10', null]) {
    assert.throws(() => parseAmount(bad), DecodeError, `${String(bad)} must be refused`)
  }
  assert.throws(() => parseAmount('-1.5'), { message: 'BAD_AMOUNT: amount must not be negative, got "-1.5"' })
})

test('addresses: bech32 (BIP173) of version 0 with the network prefix; a typo or another network is refused', () => {
  const hash = Uint8Array.from({ length: 20 }, (_, i) => i)
  const address = encodeAddress('rcoin', hash)
  assert.deepEqual(decodeAddress('rcoin', address), hash)
  const typo = address.slice(0, -3) + (address.at(-3) === 'q' ? 'p' : 'q') + address.slice(-2)
  assert.throws(() => decodeAddress('rcoin', typo), /BAD_ADDRESS.*checksum/i)
  assert.throws(() => decodeAddress('coin', address), /prefix rcoin/)
  assert.throws(() => decodeAddress('rcoin', 42), DecodeError)
})

test('addresses agree with the BIP173 and BIP350 vectors: version 0 is bech32, bech32m only from version 1', () => {
  // BIP173/BIP350 valid P2WPKH: coints encodes the same 20-byte program to the same string.
  const program = fromHex('751e76e8199196d454941c45d1b3a323f1433bd6')
  assert.equal(encodeAddress('bc', program), 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4')
  assert.deepEqual(decodeAddress('bc', 'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4'), program)
  // Valid segwit addresses coints does not pay: a 32-byte version 0 program (P2WSH) and versions 1, 2 and 16.
  const notOurs: Array<[string, RegExp]> = [
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7', /32-byte program/],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', /witness version 1: coints pays version 0 only/],
    ['bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs', /witness version 2/],
    ['BC1SW50QGDZ25J', /witness version 16/]
  ]
  for (const [address, why] of notOurs) assert.throws(() => decodeAddress(address.slice(0, 2).toLowerCase(), address), why, address)
  // BIP350's invalid addresses, each refused for its own reason.
  const invalid: Array<[string, RegExp]> = [
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh', /version 0 with a bech32m checksum/],
    ['tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47', /version 0 with a bech32m checksum/],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd', /version 1 with a bech32 checksum/],
    ['tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf', /version 2 with a bech32 checksum/],
    ['BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL', /version 16 with a bech32 checksum/],
    ['tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut', /prefix tc/],
    ['bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4', /BAD_ADDRESS/],
    ['BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R', /no valid witness version/],
    ['bc1pw5dgrnzv', /BAD_ADDRESS/],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav', /BAD_ADDRESS/],
    ['BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P', /16-byte program/],
    ['tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq', /mixed-case/],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf', /bad payload/],
    ['tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j', /bad payload/],
    ['bc1gmk9yu', /no valid witness version/]
  ]
  // Each is decoded on the network its prefix names (bc or tb; tc is not testnet's).
  for (const [address, why] of invalid) assert.throws(() => decodeAddress(address.startsWith('tc') ? 'tb' : address.slice(0, 2).toLowerCase(), address), why, address)
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

test('an outpoint key reads back as the txid and index it was made of', () => {
  const txid = cidOf(Uint8Array.of(1, 2, 3))
  for (const index of [0, 7, 0xffff_ffff]) {
    assert.deepEqual(parseOutpointKey(outpointKey(txid.toString(), index)), { txid: txid.toString(), index })
    assert.equal(outpointKeyOfDigest(txid.multihash.digest, index), outpointKey(txid.toString(), index))
  }
})
