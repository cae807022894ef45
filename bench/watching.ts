/**
 * What watching a node costs, and how fast the explorer is.
 * - Validation and propagation (the existing benchmarks) with the HTTP server
 *   on (metrics, scraped every second, and an explorer client reading its
 *   event stream) against both off, alternated round by round in one run.
 * - The explorer against a node with 10,000 blocks: time to first render of
 *   its main page in Chromium, and the server time of a block page (of the
 *   small chain's blocks and of full 1 MB blocks), medians over 20 loads.
 */
import { rm } from 'node:fs/promises'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { TestChain } from '../test/helpers/chain-harness.ts'
import { logChainEvents } from '../src/chain/chain-log.ts'
import { registerChainMetrics } from '../src/chain/metrics.ts'
import { Explorer } from '../src/http/explorer/explorer.ts'
import { metricsRoute } from '../src/http/metrics.ts'
import { HttpServer } from '../src/http/server.ts'
import { createLogger, setLogLevel } from '../src/log.ts'
import { CointsNode } from '../src/node/node.ts'
import { loopbackNodeOptions } from '../src/node/loopback.ts'
import { median } from '../src/util/stats.ts'
import { VERSION } from '../src/util/version.ts'
import { launchChromium } from './browser.ts'
import { chainDatadir, fullBlocksDatadir } from './fixtures.ts'
import { benchPropagation } from './network.ts'
import { buildFixture, timeConnect } from './validation.ts'

setLogLevel('silent')

/** An explorer client on `base`: its event stream read as a browser would, and /metrics scraped every second as Prometheus would. */
function watcher (base: string): () => Promise<void> {
  const abort = new AbortController()
  const reading = (async () => {
    const res = await fetch(`${base}/api/events`, { signal: abort.signal })
    const reader = res.body?.getReader()
    while (reader !== undefined) if ((await reader.read()).done) break
  })().catch(() => {})
  const scrape = setInterval(() => { void fetch(`${base}/metrics`, { signal: abort.signal }).then(async r => await r.text()).catch(() => {}) }, 1_000)
  return async () => {
    clearInterval(scrape)
    abort.abort()
    await reading
  }
}

/** What a node with its HTTP server on attaches to its chain: metrics, the story in the log, the explorer and a client of it. */
async function watchChain (chain: TestChain): Promise<() => Promise<void>> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })
  const detachMetrics = registerChainMetrics(registry, chain, chain.mempool)
  const detachLog = logChainEvents(chain, createLogger('chain'))
  const explorer = new Explorer({ sources: { chain, mempool: chain.mempool, version: VERSION }, logger: createLogger('http') })
  const http = new HttpServer({ routes: [metricsRoute(registry), ...explorer.routes], logger: createLogger('http') }, { host: '127.0.0.1', port: 0 })
  await http.start()
  const stopWatching = watcher(`http://${http.address}`)
  return async () => {
    await stopWatching()
    explorer.stop()
    await http.stop()
    detachLog()
    detachMetrics()
    registry.clear()
  }
}

/** Round `i` of a comparison: which of the two runs first alternates, so that the machine's drift favours neither. */
async function alternately<T> (i: number, off: () => Promise<T>, on: () => Promise<T>): Promise<{ off: T, on: T }> {
  if (i % 2 === 0) {
    const first = await off()
    return { off: first, on: await on() }
  }
  const first = await on()
  return { on: first, off: await off() }
}

export interface WatchingBench {
  validation: { rounds: number, coldMsOff: number, coldMsOn: number, ratio: number }
  propagation: { rounds: number, blocks: number, p50MsOff: number, p50MsOn: number, p99MsOff: number, p99MsOn: number, ratio: number }
}

/** Validation and propagation, watched and not, alternated; each ratio is taken within its round and the median reported. */
export async function benchWatching (validationRounds = 9, propagationRounds = 3, blocks = 20): Promise<WatchingBench> {
  const fixture = await buildFixture()
  const v = { off: [] as number[], on: [] as number[], ratio: [] as number[] }
  try {
    await timeConnect(fixture, 'cold')
    await timeConnect(fixture, 'cold', watchChain)
    for (let i = 0; i < validationRounds; i++) {
      const { off, on } = await alternately(i, async () => await timeConnect(fixture, 'cold'), async () => await timeConnect(fixture, 'cold', watchChain))
      v.off.push(off)
      v.on.push(on)
      v.ratio.push(on / off)
    }
  } finally {
    await rm(fixture.dir, { recursive: true, force: true })
  }
  const p = { off50: [] as number[], on50: [] as number[], off99: [] as number[], on99: [] as number[], ratio: [] as number[] }
  const watched = { http: { host: '127.0.0.1', port: 0 } }
  const clients = async (nodes: CointsNode[]): Promise<() => Promise<void>> => {
    const stops = nodes.map(n => watcher(`http://${n.http?.address ?? ''}`))
    return async () => { for (const stop of stops) await stop() }
  }
  for (let i = 0; i < propagationRounds; i++) {
    const { off, on } = await alternately(i, async () => await benchPropagation(10, blocks), async () => await benchPropagation(10, blocks, watched, clients))
    p.off50.push(off.p50Ms)
    p.on50.push(on.p50Ms)
    p.off99.push(off.p99Ms)
    p.on99.push(on.p99Ms)
    p.ratio.push(on.p50Ms / off.p50Ms)
  }
  return {
    validation: { rounds: validationRounds, coldMsOff: median(v.off), coldMsOn: median(v.on), ratio: median(v.ratio) },
    propagation: { rounds: propagationRounds, blocks, p50MsOff: median(p.off50), p50MsOn: median(p.on50), p99MsOff: median(p.off99), p99MsOn: median(p.on99), ratio: median(p.ratio) }
  }
}

export interface ExplorerBench {
  blocks: number
  loads: number
  /** From navigation to the main page drawn (its script's mark), in the page's own clock. */
  firstRenderMs: number
  /** The same, as the test driver waits for it (navigation, fetches, drawing, Playwright's round trips). */
  loadMs: number
  /** GET /api/block/{id} of the 10,000-block chain's blocks (coinbase only), to the last byte. */
  blockPageMs: number
  /** The same for full blocks (about 1 MB). */
  fullBlockPageMs: number
}

async function timeFetch (url: string): Promise<number> {
  const start = performance.now()
  const res = await fetch(url)
  await res.arrayBuffer()
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return performance.now() - start
}

async function onNode<T> (datadir: string, fn: (base: string) => Promise<T>): Promise<T> {
  const node = await CointsNode.create(loopbackNodeOptions(datadir, { http: { host: '127.0.0.1', port: 0 } }))
  await node.start()
  try {
    return await fn(`http://${node.http?.address ?? ''}`)
  } finally {
    await node.stop()
  }
}

export async function benchExplorer (count = 10_000, loads = 20): Promise<ExplorerBench> {
  const chain = await chainDatadir(count)
  const full = await fullBlocksDatadir(4_000_000)
  const browser = await launchChromium()
  try {
    const { render, load, page } = await onNode(chain.datadir, async base => {
      const tab = await browser.context.newPage()
      // One untimed load: the browser's own start is not the page's.
      await tab.goto(`${base}/`)
      await tab.waitForSelector('body[data-rendered="/"]', { state: 'attached' })
      const render: number[] = []
      const load: number[] = []
      for (let i = 0; i < loads; i++) {
        const start = performance.now()
        await tab.goto(`${base}/`)
        await tab.waitForSelector('body[data-rendered="/"]', { state: 'attached' })
        load.push(performance.now() - start)
        render.push(Number(await tab.getAttribute('body', 'data-rendered-at')))
      }
      await tab.close()
      const ids = chain.blocks.slice(-loads).map(b => b.idString)
      await timeFetch(`${base}/api/block/${ids[0]}`)
      const page: number[] = []
      for (const id of ids) page.push(await timeFetch(`${base}/api/block/${id}`))
      return { render, load, page }
    })
    const fullPage = await onNode(full.datadir, async base => {
      await timeFetch(`${base}/api/block/${full.ids[0].toString()}`)
      const times: number[] = []
      for (let i = 0; i < loads; i++) times.push(await timeFetch(`${base}/api/block/${full.ids[i % full.ids.length].toString()}`))
      return times
    })
    return { blocks: count, loads, firstRenderMs: median(render), loadMs: median(load), blockPageMs: median(page), fullBlockPageMs: median(fullPage) }
  } finally {
    await browser.close()
    await rm(chain.datadir, { recursive: true, force: true })
    await rm(full.datadir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchExplorer(), null, 2))
  console.log(JSON.stringify(await benchWatching(), null, 2))
}
