import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createLogger } from '../src/log.ts'
import { BanFile, BANS_FILE } from '../src/p2p/ban-file.ts'
import { BanList } from '../src/p2p/ban-list.ts'
import { hostSubnet, parseAddress, parseSubnet } from '../src/p2p/subnet.ts'

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

test('a subnet ban covers every address in it and no other; an IPv6 peer earns its /64, an IPv4 one its address', () => {
  const clock = { now: 1_000_000 }
  const bans = new BanList({ now: () => clock.now })
  bans.banSubnet(parseSubnet('203.0.113.0/24'), 60_000, 'setban')
  bans.banSubnet(hostSubnet(parseAddress('2001:db8:1:2:aaaa::1') as Uint8Array), 120_000, 'misbehaving')
  bans.banSubnet(hostSubnet(parseAddress('198.51.100.7') as Uint8Array), 30_000, 'misbehaving')
  assert.equal(bans.isAddressBanned('203.0.113.200'), true)
  assert.equal(bans.isAddressBanned('::ffff:203.0.113.5'), true, 'an IPv4-mapped IPv6 address is its IPv4 one')
  assert.equal(bans.isAddressBanned('203.0.114.1'), false)
  assert.equal(bans.isAddressBanned('2001:db8:1:2:ffff::9'), true, 'a new address in the same /64')
  assert.equal(bans.isAddressBanned('2001:db8:1:3::1'), false)
  assert.equal(bans.isAddressBanned('198.51.100.7'), true)
  assert.equal(bans.isAddressBanned('198.51.100.8'), false)
  assert.equal(bans.isAddressBanned('not an address'), false)
  assert.deepEqual(bans.banned, ['203.0.113.0/24', '2001:db8:1:2::/64', '198.51.100.7/32'])

  assert.equal(bans.unbanSubnet(parseSubnet('203.0.113.1/24')), true, 'the same network, spelled otherwise')
  assert.equal(bans.unbanSubnet(parseSubnet('203.0.113.0/24')), false)
  assert.equal(bans.isAddressBanned('203.0.113.200'), false)
  clock.now += 30_001
  assert.equal(bans.isAddressBanned('198.51.100.7'), false, 'a ban ends')
  assert.deepEqual(bans.list().map(b => b.target), ['2001:db8:1:2::/64'])
  bans.clear()
  assert.deepEqual(bans.list(), [])
})

test('the ban list holds at most maxBans: past it, the bans that end soonest go', () => {
  const bans = new BanList({ maxBans: 3, now: () => 0 })
  bans.ban('a', 50)
  bans.ban('b', 10)
  bans.banSubnet(parseSubnet('10.0.0.1'), 30)
  bans.banSubnet(parseSubnet('10.0.0.2'), 40)
  assert.deepEqual(bans.banned.sort(), ['10.0.0.1/32', '10.0.0.2/32', 'a'])
  bans.ban('c', 100)
  assert.deepEqual(bans.banned.sort(), ['10.0.0.2/32', 'a', 'c'])
  assert.equal(bans.isAddressBanned('10.0.0.1'), false)
})

test('a peer\'s offence level rises with its offences toward 1 at the ban, and falls back to 0 once they are forgotten', () => {
  const clock = { now: 0 }
  const bans = new BanList({ threshold: 4, forgetMs: 1_000, now: () => clock.now })
  assert.equal(bans.offenceLevel('a'), 0)
  bans.offend('a')
  bans.offend('a')
  assert.equal(bans.offenceLevel('a'), 0.5)
  clock.now += 1_001
  assert.equal(bans.offenceLevel('a'), 0)
  bans.offend('a', 4)
  assert.equal(bans.offenceLevel('a'), 1)
  assert.equal(bans.unban('a'), true)
  assert.equal(bans.offenceLevel('a'), 0)
  assert.equal(bans.unban('a'), false)
})

test('subnets are read in Core\'s setban spellings and written canonically; anything else is a clear error', () => {
  assert.equal(parseSubnet('192.0.2.77').text, '192.0.2.77/32')
  assert.equal(parseSubnet('192.0.2.77/24').text, '192.0.2.0/24')
  assert.equal(parseSubnet('192.0.2.77/255.255.255.0').text, '192.0.2.0/24')
  assert.equal(parseSubnet('0.0.0.0/0').text, '0.0.0.0/0')
  assert.equal(parseSubnet('2001:DB8:0:0:1:0:0:1').text, '2001:db8::1:0:0:1/128')
  assert.equal(parseSubnet('2001:db8:aa:bb:cc::/64').text, '2001:db8:aa:bb::/64')
  assert.equal(parseSubnet('::ffff:192.0.2.1').text, '192.0.2.1/32')
  assert.equal(parseSubnet('::1').text, '::1/128')
  for (const bad of ['192.0.2.1/33', '2001:db8::/129', '192.0.2.1/255.0.255.0', '192.0.2', 'host.example', '192.0.2.1/', '192.0.2.1/ff::']) {
    assert.throws(() => parseSubnet(bad), (err: Error & { code?: string }) => err.code === 'BAD_SUBNET', bad)
  }
})

test('the ban file: bans are written after each change and read back at start, ended ones dropped; a damaged file is moved aside with a warning', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-ban-file-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, BANS_FILE)
  const clock = { now: Date.now() }
  const warnings: string[] = []
  const logger = { ...createLogger('test'), warn: (msg: string) => { warnings.push(msg) } }
  const open = async (): Promise<{ bans: BanList, file: BanFile }> => {
    const bans = new BanList({ now: () => clock.now })
    const file = new BanFile({ bans, logger }, { path })
    await file.load()
    return { bans, file }
  }

  const first = await open()
  assert.deepEqual(first.bans.list(), [], 'no file: no bans')
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  first.bans.ban(peer, 60_000, 'setban')
  first.bans.banSubnet(parseSubnet('2001:db8::/32'), 10_000, 'misbehaving')
  await first.file.flush()
  const second = await open()
  assert.deepEqual(second.bans.list(), first.bans.list())
  clock.now += 10_001
  const third = await open()
  assert.deepEqual(third.bans.list().map(b => b.target), [peer], 'an ended ban is dropped')

  for (const damaged of ['{"version":1,"bans":[{"kind":"peer"', '{"version":2,"bans":[]}', JSON.stringify({ version: 1, bans: [{ kind: 'address', target: '10.0.0.0/99', created: 1, until: clock.now + 1, reason: '' }] })]) {
    await writeFile(path, damaged)
    warnings.length = 0
    const { bans } = await open()
    assert.deepEqual(bans.list(), [])
    assert.equal(warnings.length, 1)
    const aside = /moved to (\S+),/.exec(warnings[0])?.[1] ?? ''
    assert.equal(await readFile(aside, 'utf8'), damaged, 'nothing of the damaged file is lost')
    await rm(aside)
  }
  assert.deepEqual((await readdir(dir)).filter(f => f !== BANS_FILE), [])
})
