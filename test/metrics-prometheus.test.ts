/**
 * A real Prometheus (Debian's `prometheus`, which .ci/run installs) scrapes a
 * regtest node on loopback; its own HTTP API must give back what the node
 * says over RPC.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort } from '../src/util/free-port.ts'
import { newKey, rpc, startNode, waitFor } from './helpers/node-harness.ts'

const PROMETHEUS = '/usr/bin/prometheus'

interface Sample { metric: Record<string, string>, value: [number, string] }

async function query (base: string, promql: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`)
  const body = await res.json() as { status: string, data?: { result: Sample[] }, error?: string }
  if (body.status !== 'success') throw new Error(`prometheus: ${body.error ?? res.status}`)
  return body.data?.result ?? []
}

async function value (base: string, promql: string): Promise<number | undefined> {
  const [sample] = await query(base, promql)
  return sample === undefined ? undefined : Number(sample.value[1])
}

test('Prometheus scrapes the node: coints_height and the validation histogram match the node\'s RPC', async t => {
  assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: install Debian's prometheus (apt-get install prometheus; .ci/run does)`)
  const key = newKey()
  const node = await startNode(t, { http: { host: '127.0.0.1', port: 0 }, minerAddress: key.address })
  const mined = await rpc(node, 'generate', [5])
  assert.equal(mined.length, 5)

  const dir = await mkdtemp(join(tmpdir(), 'coints-prometheus-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: coints',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: ['${node.http?.address ?? ''}']`,
    ''
  ].join('\n'))
  const port = await freePort()
  const prometheus = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  prometheus.stderr.on('data', chunk => { stderr += String(chunk) })
  t.after(async () => {
    if (prometheus.exitCode !== null) return
    const exited = new Promise(resolve => prometheus.once('exit', resolve))
    prometheus.kill('SIGTERM')
    await exited
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor(async () => prometheus.exitCode === null && (await fetch(`${base}/-/ready`).catch(() => undefined))?.ok === true, `Prometheus to be ready (${stderr})`, 60_000)

  // The target is up, and Prometheus has the node's height as RPC says it.
  const height = await rpc(node, 'getblockcount')
  assert.equal(height, 5)
  await waitFor(async () => await value(base, 'up{job="coints"}') === 1, 'the node\'s target to be up', 30_000)
  await waitFor(async () => await value(base, 'coints_height') === height, `coints_height ${height} in Prometheus`, 30_000)
  // The validation histogram counted each mined block once, in every stage a block on the tip goes through.
  for (const stage of ['total', 'sanity', 'context', 'store', 'connect']) {
    assert.equal(await value(base, `coints_block_validation_seconds_count{stage="${stage}"}`), mined.length, stage)
  }
  assert.equal(await value(base, 'coints_blocks_accepted_total{status="connected"}'), mined.length)
  // Buckets are cumulative: +Inf holds them all, and a quantile is computable from them.
  assert.equal(await value(base, 'coints_block_validation_seconds_bucket{stage="total",le="+Inf"}'), mined.length)
  const median = await value(base, 'histogram_quantile(0.5, coints_block_validation_seconds_bucket{stage="total"})')
  assert.ok(median !== undefined && median > 0 && median < 10, `median validation time ${String(median)} s`)

  // Later blocks reach Prometheus too, as do the mempool's figures.
  await rpc(node, 'generate', [2])
  await waitFor(async () => await value(base, 'coints_height') === await rpc(node, 'getblockcount'), 'coints_height after two more blocks', 30_000)
  const mempool = await rpc(node, 'getmempoolinfo')
  assert.equal(await value(base, 'coints_mempool_transactions'), mempool.size)
  // The process's own and libp2p's.
  assert.ok((await value(base, 'process_resident_memory_bytes') ?? 0) > 10_000_000)
  assert.ok(await value(base, 'nodejs_eventloop_lag_seconds') !== undefined)
  // TCP's listener and the circuit relay's (which takes relayed connections in).
  assert.equal(await value(base, 'libp2p_transport_manager_listeners'), 2)

  // The Grafana dashboard in docs/: each of its queries runs on this Prometheus, and each metric it names is served.
  const dashboard = JSON.parse(await readFile(new URL('../docs/grafana/coints-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
  // A family is served by its TYPE line even before it has a sample (a counter by code nothing was refused with yet).
  const served = await (await fetch(`http://${node.http?.address ?? ''}/metrics`)).text()
  const families = new Set([...served.matchAll(/^# TYPE (\S+)/gm)].map(m => m[1]))
  const exprs = dashboard.panels.flatMap(p => p.targets ?? []).map(target => target.expr)
  assert.ok(exprs.length >= 20)
  for (const expr of exprs) {
    await query(base, expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'))
    for (const [name] of expr.matchAll(/\b(?:coints|libp2p|nodejs|process)_\w+/g)) {
      assert.ok(families.has(name) || families.has(name.replace(/_(?:bucket|sum|count)$/, '')), `${name} (in the dashboard) is served`)
    }
  }
})
