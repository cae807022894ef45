import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { helpText, parseFlags } from '../src/cli/command.ts'
import { nodeCommand, nodeOptionsFrom } from '../src/cli/commands/node.ts'

const parse = async (...argv: string[]): Promise<Awaited<ReturnType<typeof nodeOptionsFrom>>> => {
  const flags = {
    network: { type: 'string' },
    announce: { type: 'string', multiple: true },
    stun: { type: 'string', multiple: true },
    upnp: { type: 'boolean' },
    'relay-service': { type: 'boolean' },
    'relay-client': { type: 'boolean' },
    config: { type: 'string' }
  } as const
  return await nodeOptionsFrom(parseFlags(nodeCommand, argv, flags).values)
}

test('NAT flags: defaults, --announce, --stun, --no-upnp, --no-relay-service, --relay-client and --no-relay-client, in help and the config file', async t => {
  const defaults = await parse()
  assert.deepEqual([defaults.announce, defaults.stun, defaults.upnp, defaults.relayService, defaults.relayClient], [[], [], true, true, 'auto'])
  // No SSDP multicast from regtest nodes, which run on loopback in tests and swarms.
  assert.equal((await parse('--network', 'regtest')).upnp, false)
  assert.equal((await parse('--network', 'regtest', '--upnp')).upnp, true)
  const set = await parse('--announce', '/ip4/1.2.3.4/tcp/9444', '--stun', 'stun:stun.example.org:3478', '--stun', 'stun:[2001:db8::1]', '--no-upnp', '--no-relay-service', '--relay-client')
  assert.deepEqual([set.announce, set.stun, set.upnp, set.relayService, set.relayClient], [['/ip4/1.2.3.4/tcp/9444'], ['stun:stun.example.org:3478', 'stun:[2001:db8::1]'], false, false, 'on'])
  assert.equal((await parse('--no-relay-client')).relayClient, 'off')
  await assert.rejects(parse('--stun', 'http://stun.example.org'), /BAD_FLAGS.*not a STUN URL|not a STUN URL/)
  await assert.rejects(parse('--announce', 'not-a-multiaddr'), /not a multiaddr/)
  const help = helpText(nodeCommand)
  for (const flag of ['--announce', '--stun', '--upnp, --no-upnp', '--no-relay-service', '--relay-client']) assert.ok(help.includes(flag), `${flag} in coints node --help`)
  const dir = await mkdtemp(join(tmpdir(), 'coints-nat-config-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({ announce: ['/ip4/5.6.7.8/tcp/1'], stun: 'stun:s.example.org', upnp: false, 'relay-service': false, 'relay-client': false }))
  const fromFile = await parse('--config', config)
  assert.deepEqual([fromFile.announce, fromFile.stun, fromFile.upnp, fromFile.relayService, fromFile.relayClient], [['/ip4/5.6.7.8/tcp/1'], ['stun:s.example.org'], false, false, 'off'])
})
