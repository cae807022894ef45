// The explorer's router and live updates: pages are drawn from the path without reloads; /api/events keeps them current.
import { address, block, home, mempool, peers, tx } from './pages.js'
import { api, ApiError, h } from './util.js'

const main = document.getElementById('page')
const live = document.getElementById('live')
const searchError = document.getElementById('search-error')
/** The live-event handlers of the page shown now. */
let handlers = {}
/** Bumped at each navigation: a page drawn late (a slow fetch) never replaces a newer one. */
let generation = 0

/** Draws the page a path names. */
async function show (path) {
  const url = new URL(path, location.origin)
  const mine = ++generation
  handlers = {}
  const parts = url.pathname.split('/').filter(p => p !== '').map(decodeURIComponent)
  // Each page marks the body once drawn: tests and benchmarks wait for it.
  document.body.dataset.rendered = ''
  const ctx = {
    rendered: () => {
      if (mine !== generation) return
      // When it was drawn, in ms since the navigation began: the benchmark's time to first render.
      document.body.dataset.renderedAt = String(Math.round(performance.now()))
      document.body.dataset.rendered = url.pathname
    }
  }
  try {
    let drawn
    if (parts.length === 0) drawn = await home(main, ctx)
    else if (parts[0] === 'block' && parts.length === 2) drawn = await block(main, ctx, parts[1], Number(url.searchParams.get('page') ?? 0))
    else if (parts[0] === 'tx' && parts.length === 2) drawn = await tx(main, ctx, parts[1])
    else if (parts[0] === 'address' && parts.length === 2) drawn = await address(main, ctx, parts[1], url.searchParams.get('before'))
    else if (parts[0] === 'mempool') drawn = await mempool(main, ctx)
    else if (parts[0] === 'peers') drawn = await peers(main, ctx)
    else throw new ApiError(404, `no page at ${url.pathname}`)
    if (mine === generation) handlers = drawn ?? {}
  } catch (err) {
    if (mine !== generation) return
    main.replaceChildren(h('h1', {}, err instanceof ApiError && err.status === 404 ? 'Not found' : 'Could not load this page'), h('p', { class: 'error', 'data-testid': 'error' }, err.message))
    ctx.rendered()
  }
  document.title = `${document.querySelector('main h1')?.textContent ?? 'coints'} · coints explorer`
}

function navigate (path) {
  history.pushState(null, '', path)
  searchError.hidden = true
  void show(path)
}

// Links inside the page change the path without a reload.
document.addEventListener('click', event => {
  const a = event.target instanceof Element ? event.target.closest('a[data-link]') : null
  if (a === null || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return
  event.preventDefault()
  navigate(a.getAttribute('href'))
})
window.addEventListener('popstate', () => { void show(location.pathname + location.search) })

document.getElementById('search').addEventListener('submit', async event => {
  event.preventDefault()
  const q = document.getElementById('q').value.trim()
  if (q === '') return
  try {
    const hit = await api(`search?q=${encodeURIComponent(q)}`)
    navigate(hit.kind === 'address' ? `/address/${hit.address}` : `/${hit.kind}/${hit.id}`)
  } catch (err) {
    searchError.textContent = err.message
    searchError.hidden = false
  }
})

function header (status) {
  document.getElementById('network').textContent = `${status.network} · ${status.height}`
}

// One stream for the whole visit; EventSource reconnects by itself (the server's retry: 3 s).
const events = new EventSource('/api/events')
events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on' })
events.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live' })
events.addEventListener('status', e => {
  const status = JSON.parse(e.data)
  header(status)
  handlers.onStatus?.(status)
})
events.addEventListener('tip', e => { void handlers.onTip?.(JSON.parse(e.data)) })
events.addEventListener('mempool', e => { handlers.onMempool?.(JSON.parse(e.data)) })
// Closed on leaving, so the browser does not report it as failed.
window.addEventListener('pagehide', () => { events.close() })

void show(location.pathname + location.search)
