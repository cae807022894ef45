/**
 * `coints swarm --report FILE.html`: one self-contained page (inline SVG and
 * CSS, no script, nothing fetched) with the swarm's plots: heights over time
 * with the faults marked, the propagation delays as CDFs, peers per node over
 * time and the reorganisations. Each plot's <svg> carries data-plot and
 * data-points (the points it drew), which the Chromium test reads.
 */
import { formatReport, type SwarmRecord } from './swarm.ts'

const W = 880
const H = 300
const M = { left: 60, right: 20, top: 20, bottom: 40 }

interface Series { name: string, color: string, points: Array<[number, number]> }
interface Plot {
  id: string
  title: string
  x: string
  y: string
  series: Series[]
  /** Vertical lines with a label (the faults). */
  marks?: Array<{ x: number, label: string }>
  /** Steps (a count that holds until the next sample) instead of straight segments. */
  step?: boolean
  /** Dots instead of lines. */
  dots?: boolean
  logX?: boolean
}

const escape = (text: string): string => text.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)
const colorOf = (i: number): string => `hsl(${(i * 137.508) % 360} 65% 42%)`
const fmt = (x: number): string => Math.abs(x) >= 1000 ? `${Math.round(x / 100) / 10}k` : String(Math.round(x * 100) / 100)

/** About `n` round tick values from lo to hi. */
function ticks (lo: number, hi: number, n = 6): number[] {
  const span = hi - lo
  if (span <= 0) return [lo]
  const raw = span / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(k => k * mag).find(s => s >= raw) as number
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v)
  return out
}

function svg (p: Plot): string {
  const all = p.series.flatMap(s => s.points)
  const xs = all.map(([x]) => p.logX === true ? Math.log10(Math.max(1, x)) : x).concat((p.marks ?? []).map(m => m.x))
  const ys = all.map(([, y]) => y)
  const x0 = Math.min(0, ...xs)
  const x1 = Math.max(x0 + 1, ...xs)
  const y0 = Math.min(0, ...ys)
  const y1 = Math.max(y0 + 1, ...ys)
  const sx = (x: number): number => M.left + ((p.logX === true ? Math.log10(Math.max(1, x)) : x) - x0) / (x1 - x0) * (W - M.left - M.right)
  const sy = (y: number): number => H - M.bottom - (y - y0) / (y1 - y0) * (H - M.top - M.bottom)
  const parts: string[] = []
  for (const t of ticks(y0, y1)) parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}"/><text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`)
  const xTicks = p.logX === true ? ticks(x0, x1).filter(Number.isInteger).map(e => 10 ** e) : ticks(x0, x1)
  for (const t of xTicks) parts.push(`<text x="${sx(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`)
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/><line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>`)
  parts.push(`<text x="${(W + M.left) / 2}" y="${H - 6}" text-anchor="middle">${escape(p.x)}</text><text transform="translate(14 ${(H - M.bottom + M.top) / 2}) rotate(-90)" text-anchor="middle">${escape(p.y)}</text>`)
  for (const [n, m] of (p.marks ?? []).entries()) {
    parts.push(`<line class="mark" x1="${sx(m.x)}" x2="${sx(m.x)}" y1="${M.top}" y2="${H - M.bottom}"><title>${escape(m.label)}</title></line><text class="mark" x="${sx(m.x) + (sx(m.x) > W * 0.7 ? -3 : 3)}" y="${M.top + 10 + (n % 4) * 11}" text-anchor="${sx(m.x) > W * 0.7 ? 'end' : 'start'}">${escape(m.label)}</text>`)
  }
  for (const s of p.series) {
    if (s.points.length === 0) continue
    if (p.dots === true) {
      parts.push(`<g fill="${s.color}">${s.points.map(([x, y]) => `<circle cx="${sx(x)}" cy="${sy(y)}" r="4"><title>${escape(s.name)} at ${fmt(x)} s</title></circle>`).join('')}</g>`)
      continue
    }
    const d = s.points.map(([x, y], i) => {
      const at = `${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`
      if (i === 0) return `M${at}`
      return p.step === true ? `H${sx(x).toFixed(1)} V${sy(y).toFixed(1)}` : `L${at}`
    }).join(' ')
    parts.push(`<path d="${d}" stroke="${s.color}"><title>${escape(s.name)}</title></path>`)
  }
  const legend = p.series.length <= 12 ? `<div class="legend">${p.series.map(s => `<span style="color:${s.color}">&#9632; ${escape(s.name)}</span>`).join(' ')}</div>` : `<div class="legend">${p.series.length} nodes, one colour each</div>`
  return `<section><h2>${escape(p.title)}</h2><svg data-plot="${p.id}" data-points="${all.length}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escape(p.title)}">${parts.join('')}</svg>${legend}</section>`
}

/** The share of delays at or below each delay: a CDF as (ms, fraction) points. */
function cdf (delays: number[]): Array<[number, number]> {
  const sorted = [...delays].sort((a, b) => a - b)
  return sorted.map((d, i) => [Math.max(1, d), (i + 1) / sorted.length])
}

export function renderReportHtml (record: SwarmRecord): string {
  const { report, samples, events } = record
  const seconds = (ms: number): number => Math.round(ms / 100) / 10
  const count = Math.max(0, ...samples.map(s => s.nodes.length))
  const perNode = (value: (n: { height: number, peers: number, reorgs: number }) => number): Series[] => Array.from({ length: count }, (_, i) => ({
    name: `node ${i}`,
    color: colorOf(i),
    points: samples.flatMap(s => {
      const n = s.nodes[i]
      return n === null || n === undefined ? [] : [[seconds(s.t), value(n)] as [number, number]]
    })
  }))
  const marks = events.map(e => ({ x: seconds(e.t), label: e.label }))
  // A reorganisation is seen as a node's count going up between two samples.
  const reorgs: Series[] = Array.from({ length: count }, (_, i) => {
    const points: Array<[number, number]> = []
    let before = 0
    for (const s of samples) {
      const n = s.nodes[i]
      if (n === null || n === undefined) continue
      if (n.reorgs > before) points.push([seconds(s.t), i])
      before = Math.max(before, n.reorgs)
    }
    return { name: `node ${i}`, color: colorOf(i), points }
  })
  const plots: Plot[] = [
    { id: 'heights', title: 'Height of each node over time', x: 'seconds since the nodes started', y: 'height', series: perNode(n => n.height), marks },
    { id: 'propagation', title: 'Propagation delay (CDF): the time until the last node had it', x: 'ms (log scale)', y: 'share of blocks / transactions', logX: true, series: [{ name: `blocks (${record.blockDelaysMs.length})`, color: colorOf(0), points: cdf(record.blockDelaysMs) }, { name: `transactions (${record.txDelaysMs.length})`, color: colorOf(3), points: cdf(record.txDelaysMs) }], step: true },
    { id: 'peers', title: 'Peers of each node over time', x: 'seconds since the nodes started', y: 'peers', series: perNode(n => n.peers), marks, step: true },
    { id: 'reorgs', title: `Reorganisations (${report.reorgs}, deepest ${report.maxReorgDepth}): when each node reorganised`, x: 'seconds since the nodes started', y: 'node', series: reorgs, marks, dots: true }
  ]
  const title = `coints swarm: ${report.nodes} nodes${report.late > 0 ? ` + ${report.late} late` : ''}, ${report.converged ? 'converged' : 'NOT converged'}`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 920px; color: #222 }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto }
svg { background: #fff; border: 1px solid #ddd }
svg text { font-size: 11px; fill: #444 }
svg path { fill: none; stroke-width: 1.5 }
svg .grid { stroke: #eee } svg .axis { stroke: #888 }
svg line.mark { stroke: #c33; stroke-dasharray: 4 3 } svg text.mark { fill: #c33 }
.legend { margin: .3em 0 1.5em; font-size: 12px }
</style></head>
<body>
<h1>${escape(title)}</h1>
<pre>${escape(formatReport(report))}</pre>
<h2>Faults</h2>
<ul>${events.map(e => `<li>${seconds(e.t)} s: ${escape(e.label)}</li>`).join('')}</ul>
${plots.map(svg).join('\n')}
</body></html>
`
}
