import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BanList } from '../src/p2p/ban-list.ts'

test('offences add up to a ban only while they come within the forget period of each other; a ban expires', () => {
  const clock = { now: 1_000_000 }
  const bans = new BanList({ threshold: 3, banMs: 60_000, forgetMs: 10_000, now: () => clock.now })
  assert.equal(bans.offend('a'), false)
  assert.equal(bans.offend('a'), false)
  clock.now += 10_001
  // Two old offences are forgotten: an honest peer that timed out now and then is not banned.
  assert.equal(bans.offend('a'), false)
  assert.equal(bans.isBanned('a'), false)
  clock.now += 5_000
  assert.equal(bans.offend('a'), false)
  assert.equal(bans.offend('a'), true)
  assert.equal(bans.isBanned('a'), true)
  assert.deepEqual(bans.banned, ['a'])
  clock.now += 60_001
  assert.equal(bans.isBanned('a'), false)
  assert.deepEqual(bans.banned, [])
  // A weighty offence bans at once.
  assert.equal(bans.offend('b', 3), true)
})
