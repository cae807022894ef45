import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DBCACHE_MB } from '../src/chain/cache-sizes.ts'
import { helpText, parseFlags } from '../src/cli/command.ts'
import { nodeCommand, nodeOptionsFrom } from '../src/cli/commands/node.ts'

const parse = async (...argv: string[]): Promise<Awaited<ReturnType<typeof nodeOptionsFrom>>> => {
  const flags = { dbcache: { type: 'string' }, 'verifier-threads': { type: 'string' }, config: { type: 'string' } } as const
  return await nodeOptionsFrom(parseFlags(nodeCommand, argv, flags).values)
}

test('--dbcache MB and --verifier-threads 0: defaults, values, the config file, help, and bad values in one line', async t => {
  const defaults = await parse()
  assert.deepEqual([defaults.dbcacheMb, defaults.verifierThreads], [DEFAULT_DBCACHE_MB, undefined], 'one verifier a core, as before')
  const set = await parse('--dbcache', '4', '--verifier-threads', '0')
  assert.deepEqual([set.dbcacheMb, set.verifierThreads], [4, 0])
  assert.equal((await parse('--dbcache', '2000')).dbcacheMb, 2000)
  for (const bad of ['3', '0', '-1', '1.5', '100MB', '65537']) await assert.rejects(parse('--dbcache', bad), /^UsageError: BAD_FLAGS: --dbcache must be an integer in 4\.\.65536, got "[^"\n]*"$/)
  await assert.rejects(parse('--verifier-threads', '-1'), /--verifier-threads must be an integer in 0\.\.64/)
  const help = helpText(nodeCommand)
  assert.match(help, /--dbcache MB .*-dbcache \(default 100, at least 4\)/)
  assert.match(help, /--verifier-threads N .*0: on the main thread/)
  const dir = await mkdtemp(join(tmpdir(), 'coints-memory-config-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({ dbcache: '16', 'verifier-threads': '0' }))
  const fromFile = await parse('--config', config)
  assert.deepEqual([fromFile.dbcacheMb, fromFile.verifierThreads], [16, 0])
})
