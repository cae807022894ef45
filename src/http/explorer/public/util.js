// Small helpers shared by the pages: building DOM (text is always text: never parsed as HTML), reading the node's JSON, formatting.

/** An element: h('td', { class: 'x' }, 'text', child…). */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'dataset') Object.assign(el.dataset, value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

/** A link inside the page (drawn without a reload). */
export function link (href, text, attrs = {}) {
  return h('a', { href, 'data-link': true, ...attrs }, text)
}

/** A refusal the node explained: its status and its one line. */
export class ApiError extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

export async function api (path) {
  const res = await fetch(`/api/${path}`, { headers: { Accept: 'application/json' } })
  if (!res.ok) throw new ApiError(res.status, (await res.text()).trim())
  return await res.json()
}

export function shortId (id, keep = 10) {
  return id.length <= 2 * keep + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`
}

export function bytes (n) {
  if (n < 1000) return `${n} B`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`
  return `${(n / 1e6).toFixed(1)} MB`
}

export function ago (seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} days ago`
}

export function duration (seconds) {
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

export function time (seconds) {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

/** The badge of where a block stands. */
export function standing (value) {
  const text = { best: 'best chain', stale: 'stale', invalid: 'invalid' }[value] ?? value
  return h('span', { class: `badge ${value}`, 'data-testid': 'standing' }, text)
}

/** A table: head cells, then rows of cells. */
export function table (head, rows, attrs = {}) {
  return h('table', attrs, h('thead', {}, h('tr', {}, head.map(c => h('th', {}, c)))), h('tbody', {}, rows))
}

/** Label/value rows. */
export function fields (pairs) {
  return h('dl', { class: 'fields' }, pairs.filter(p => p !== null).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}
