/** The command line at a real terminal (a pseudo-terminal): what a user sees and types. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { HDKey } from '@scure/bip32'
import { encodeAddress } from '../src/core/address.ts'
import { fromHex, hash160 } from '../src/core/hash.ts'
import { freePort } from '../src/util/free-port.ts'
import { waitFor } from './helpers/node-harness.ts'
import { onPty } from './helpers/pty.ts'

const run = promisify(execFile)
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
/** No passphrase from the environment: the terminal is asked. */
const env = { ...process.env, COINTS_PASSPHRASE: undefined, COINTS_BIP39_PASSPHRASE: undefined }
/** Terminal control sequences that move the cursor or erase (readline's prompt redraw erased the question). */
const ERASES = /\x1b\[\d*[GJKH]/

async function rpcOk (target: string[], method: string): Promise<string> {
  return (await run(process.execPath, [MAIN, 'rpc', ...target, method])).stdout
}

test('wallet create asks twice at the terminal: the question stays on screen, the typing never shows, a mismatch creates nothing', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-pty-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', String(await freePort())]

  // No node yet: the command says so before asking anything.
  const early = onPty(t, process.execPath, [MAIN, 'wallet', 'create', ...target], env)
  assert.equal(await early.exited, 1)
  assert.match(early.screen, /coints: NO_COOKIE: /)
  assert.doesNotMatch(early.screen, /passphrase/, 'no passphrase is asked for a node that is not there')

  const node = spawn(process.execPath, [MAIN, 'node', '--no-http', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
  t.after(() => { node.kill('SIGKILL') })
  await waitFor(async () => await rpcOk(target, 'getblockcount').then(() => true, () => false), 'the node to answer RPC')

  const typo = onPty(t, process.execPath, [MAIN, 'wallet', 'create', ...target], env)
  const asked = await typo.waitForText('new wallet passphrase: ')
  typo.type('first try\r')
  const again = await typo.waitForText('new wallet passphrase again: ', asked)
  assert.doesNotMatch(typo.screen.slice(asked, again), ERASES, 'nothing erases the question')
  typo.type('first trx\r')
  assert.equal(await typo.exited, 2)
  assert.match(typo.screen.slice(again), /coints: the two passphrases differ: nothing was changed/)
  assert.doesNotMatch(typo.screen, /first tr/, 'what is typed is never shown')
  assert.equal(JSON.parse(await rpcOk(target, 'getwalletinfo')).exists, false)

  const good = onPty(t, process.execPath, [MAIN, 'wallet', 'create', ...target], env)
  const first = await good.waitForText('new wallet passphrase: ')
  good.type('horse battery\r')
  await good.waitForText('again: ', first)
  good.type('horse battery\r')
  assert.equal(await good.exited, 0, good.screen)
  assert.match(good.screen, /wallet created\.[\s\S]*mnemonic[\s\S]*first address: rcoin1q/)
  assert.doesNotMatch(good.screen, /horse/)

  // A locked wallet's send asks once, the same way.
  await run(process.execPath, [MAIN, 'rpc', ...target, 'generate', '11'])
  const address = (await run(process.execPath, [MAIN, 'wallet', 'address', ...target])).stdout.trim()
  const send = onPty(t, process.execPath, [MAIN, 'wallet', 'send', address, '1', ...target], env)
  await send.waitForText('wallet passphrase: ')
  send.type('horse battery\r')
  assert.equal(await send.exited, 0, send.screen)
  assert.match(send.screen, /sent 1 to rcoin1q/)
  assert.doesNotMatch(send.screen, /horse/)

  // Ctrl-C at a prompt cancels with the shell's status for an interrupt.
  const cancel = onPty(t, process.execPath, [MAIN, 'wallet', 'passphrase', ...target], env)
  await cancel.waitForText('current wallet passphrase: ')
  cancel.type('\u0003')
  assert.equal(await cancel.exited, 130)
  assert.match(cancel.screen, /coints: cancelled/)
})

test('wallet restore with --bip39-passphrase asks for the BIP39 passphrase too, and restores that wallet', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-pty-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', String(await freePort())]
  const node = spawn(process.execPath, [MAIN, 'node', '--no-http', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
  t.after(() => { node.kill('SIGKILL') })
  await waitFor(async () => await rpcOk(target, 'getblockcount').then(() => true, () => false), 'the node to answer RPC')

  const words = `${Array(11).fill('abandon').join(' ')} about`
  const restore = onPty(t, process.execPath, [MAIN, 'wallet', 'restore', '--bip39-passphrase', ...target], { ...env, COINTS_MNEMONIC: words, COINTS_PASSPHRASE: 'file passphrase' })
  const asked = await restore.waitForText('BIP39 passphrase')
  restore.type('TREZOR\r')
  await restore.waitForText('again: ', asked)
  restore.type('TREZOR\r')
  assert.equal(await restore.exited, 0, restore.screen)
  assert.doesNotMatch(restore.screen, /TREZOR/)
  // BIP39's published seed of these words under "TREZOR"; m/84'/1'/0'/0/0 is the first regtest receiving address.
  const seed = fromHex('c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04')
  const expected = encodeAddress('rcoin', hash160(HDKey.fromMasterSeed(seed).derive("m/84'/1'/0'/0/0").publicKey as Uint8Array))
  assert.equal((await run(process.execPath, [MAIN, 'wallet', 'address', ...target])).stdout.trim(), expected)
})
