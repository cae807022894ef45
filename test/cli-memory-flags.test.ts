import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DBCACHE_MB } from '../src/chain/cache-sizes.ts'
import { helpText, parseFlags } from '../src/cli/command.ts'
import { nodeCommand, nodeOptionsFrom } from '../src/cli/commands/node.ts'
import { freePort } from '../src/util/free-port.ts'
import { waitFor } from '../src/util/wait-for.ts'

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname

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

test('a node writes Node\'s compile cache once it has started, not only at its exit: nodes started after it (a swarm\'s) load their modules from it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-compile-cache-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const cache = join(dir, 'cache')
  const args = ['node', '--no-http', '--no-p2p', '--network', 'regtest', '--datadir', join(dir, 'node'), '--rpc-port', String(await freePort()), '--log-level', 'warn']
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: 'ignore', env: { ...process.env, NODE_COMPILE_CACHE: cache } })
  const exited = once(child, 'exit')
  t.after(() => { child.kill('SIGKILL') })
  const files = await waitFor(async () => {
    const found = await readdir(cache, { recursive: true, withFileTypes: true }).catch(() => [])
    return found.filter(f => f.isFile()).length > 100 && found.length
  }, 'the compile cache to be written', 60_000)
  assert.equal(child.exitCode, null, `written while the node runs (${files} entries)`)
  child.kill('SIGTERM')
  assert.deepEqual(await exited, [0, null])
})
