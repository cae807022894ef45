/**
 * Headless Chromium (Debian's, which .ci/run installs) opens the explorer of a
 * regtest node: the tip shows, a block mined over RPC appears without a
 * reload, a transaction found by search shows its outputs, a stale block says
 * so, and the console stays clean. The main page's screenshot goes to
 * docs/explorer.png with COINTS_SCREENSHOT=1 (else to a temporary file, so that
 * a test run leaves the checkout as it was).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import type { ConsoleMessage, Page } from 'playwright-core'
import { CHROMIUM, launchChromium } from '../bench/browser.ts'
import { encodeAddress } from '../src/core/address.ts'
import { BranchBuilder, newKey as newKeyPair, outputOf, regtest, spendTx } from './helpers/chain-harness.ts'
import { rpc, startNode, waitFor } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

const DOCS_SCREENSHOT = new URL('../docs/explorer.png', import.meta.url).pathname

test('the explorer in Chromium: the tip, a new block live, a transaction by search, a stale block, no console errors', async t => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`)
  const key = newKeyPair()
  const node = await startNode(t, { http: { host: '127.0.0.1', port: 0 }, minerAddress: encodeAddress(regtest.addressPrefix, key.addressHash) })
  await rpc(node, 'generate', [12])
  // A payment to two addresses, mined with another one: the transaction the search finds.
  const to = [newKeyPair(), newKeyPair()]
  const coinbase = await spendCoinbase(node.chain, 1, key, to[0].addressHash)
  const second = await node.chain.getBlock(node.chain.getEntryAt(2)?.id ?? coinbase.id)
  assert.ok(second !== undefined)
  const tx = spendTx(node.chain, [outputOf(second.txs[0])], key, {
    outputs: [{ amount: 7n * 10n ** 8n, address: to[0].addressHash }, { amount: 42n * 10n ** 8n, address: to[1].addressHash }]
  })
  await rpc(node, 'sendrawtransaction', [Buffer.from(tx.bytes).toString('hex')])
  await rpc(node, 'sendrawtransaction', [Buffer.from(coinbase.bytes).toString('hex')])
  await rpc(node, 'generate', [1])
  // A stale block: a rival of the tip's parent's child, with less work than the best chain.
  const staleParent = node.chain.getEntryAt(node.chain.height - 2)
  assert.ok(staleParent !== undefined)
  const stale = BranchBuilder.on(node.chain, staleParent).next()
  assert.equal((await node.chain.processBlock(stale)).status, 'side')

  const browser = await launchChromium()
  t.after(async () => { await browser.close() })
  const page = await browser.context.newPage()
  const problems: string[] = []
  // Chromium reports each 4xx answer in the console: those the test asks for on purpose are listed apart.
  const refused: string[] = []
  page.on('response', r => { if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`) })
  page.on('console', (m: ConsoleMessage) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', err => { problems.push(`page error: ${err.message}`) })
  page.on('requestfailed', r => { if (!r.url().endsWith('/api/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`) })
  const base = `http://${node.http?.address ?? ''}`
  // Each page marks <body data-rendered="PATH"> once drawn (the page's script runs in the browser, where document is).
  const rendered = async (p: Page, path: string): Promise<void> => { await p.waitForSelector(`body[data-rendered="${path}"]`, { state: 'attached', timeout: 20_000 }) }

  // The tip shows.
  await page.goto(`${base}/`)
  await rendered(page, '/')
  assert.equal(await page.textContent('[data-testid=tip-height]'), String(node.chain.height))
  assert.equal(await page.getAttribute('#blocks tr:first-child', 'data-id'), node.chain.tip.idString)
  await page.waitForSelector('#live.on', { timeout: 20_000 })

  // A block mined over RPC appears without a reload.
  const [mined] = await rpc(node, 'generate', [1])
  await page.waitForSelector(`#blocks tr[data-id="${mined}"]`, { timeout: 20_000 })
  assert.equal(await page.getAttribute('#blocks tr:first-child', 'data-id'), mined)
  await waitFor(async () => await page.textContent('[data-testid=tip-height]') === String(node.chain.height), 'the height card to follow', 20_000)
  const screenshot = process.env.COINTS_SCREENSHOT === '1' ? DOCS_SCREENSHOT : join(await mkdtemp(join(tmpdir(), 'coints-screenshot-')), 'explorer.png')
  if (screenshot !== DOCS_SCREENSHOT) t.after(async () => { await rm(dirname(screenshot), { recursive: true, force: true }) })
  await page.screenshot({ path: screenshot })
  assert.ok((await stat(screenshot)).size > 10_000, 'the screenshot shows a page')

  // A search for the txid opens its page, with its outputs.
  await page.fill('#q', tx.idString)
  await page.press('#q', 'Enter')
  await rendered(page, `/tx/${tx.idString}`)
  assert.equal(await page.textContent('[data-testid=txid]'), tx.idString)
  const outputs = await page.$$eval('[data-testid=outputs] tbody tr', rows => rows.map(r => r.innerText.split('\t')))
  assert.deepEqual(outputs, [
    ['0', encodeAddress(regtest.addressPrefix, to[0].addressHash), '7', 'unspent'],
    ['1', encodeAddress(regtest.addressPrefix, to[1].addressHash), '42', 'unspent']
  ])
  assert.match(await page.textContent('[data-testid=tx-status]') ?? '', /^2 confirmations, in block 13/)

  // The stale block's page says so; its parent lists it as a stale child.
  await page.goto(`${base}/block/${stale.idString}`)
  await rendered(page, `/block/${stale.idString}`)
  assert.equal(await page.textContent('h1 [data-testid=standing]'), 'stale')
  assert.match(await page.textContent('[data-testid=standing-note]') ?? '', /^Stale: a valid block on a branch with less work/)
  await page.goto(`${base}/block/${staleParent.idString}`)
  await rendered(page, `/block/${staleParent.idString}`)
  assert.equal(await page.textContent('h1 [data-testid=standing]'), 'best chain')
  assert.deepEqual(await page.$$eval('.child [data-testid=standing]', s => s.map(e => e.textContent)).then(s => s.sort()), ['best chain', 'stale'])

  // Searching garbage says so on the page, and nothing else broke.
  await page.fill('#q', 'no such thing')
  await page.press('#q', 'Enter')
  await page.waitForSelector('#search-error:not([hidden])')
  assert.match(await page.textContent('#search-error') ?? '', /^nothing matches "no such thing"/)
  for (const path of ['/mempool', '/peers', `/address/${encodeAddress(regtest.addressPrefix, to[1].addressHash)}`]) {
    await page.goto(`${base}${path}`)
    await rendered(page, path)
  }
  assert.match(await page.textContent('[data-testid=addrindex-off]') ?? '', /address index is off/)
  assert.deepEqual(problems, [])
  // The only refusals: the garbage search (404) and the address page without the index (409).
  assert.deepEqual(refused, ['404 /api/search', `409 /api/address/${encodeAddress(regtest.addressPrefix, to[1].addressHash)}`])
})
