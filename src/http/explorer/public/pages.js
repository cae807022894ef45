// The explorer's pages. Each draws into `main` from the node's JSON and may return handlers for live events.
import { ago, api, ApiError, bytes, duration, fields, h, link, shortId, standing, table, time } from './util.js'

/** Rows of the front page's block list. */
const LATEST = 15

function blockRow (b) {
  return h('tr', { dataset: { height: b.height, id: b.id } },
    h('td', {}, link(`/block/${b.id}`, String(b.height))),
    h('td', { class: 'mono' }, link(`/block/${b.id}`, shortId(b.id))),
    h('td', { title: time(b.time) }, ago(b.time)),
    h('td', { class: 'num' }, String(b.txs)),
    h('td', { class: 'num' }, bytes(b.size)),
    h('td', { class: 'num' }, b.fees))
}

function card (label, value, attrs = {}) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', ...attrs }, value))
}

function syncCard (sync) {
  if (sync === null || sync === undefined) return card('Sync', 'up to date', { 'data-testid': 'sync' })
  const pct = sync.target === 0 ? 100 : (100 * sync.height) / sync.target
  const eta = sync.etaSeconds === undefined ? '' : `, ${duration(sync.etaSeconds)} left`
  return card('Sync', h('span', {}, `${sync.height} of ${sync.target} (${pct.toFixed(1)} %)`, h('small', {}, ` ${Math.round(sync.blocksPerSecond)} blocks/s${eta}`), h('progress', { max: 100, value: pct.toFixed(1) })), { 'data-testid': 'sync' })
}

function addrIndexText (s) {
  if (s === null) return 'off (--addrindex)'
  if (s.error !== undefined) return `stopped: ${s.error}`
  return s.synced ? `ready (height ${s.height})` : `building: ${s.height} of ${s.tip} (${(100 * s.progress).toFixed(1)} %)`
}

function cards (status) {
  return h('section', { class: 'cards', id: 'cards' },
    card('Height', String(status.height), { 'data-testid': 'tip-height' }),
    card('Tip', h('span', {}, link(`/block/${status.tip.id}`, shortId(status.tip.id, 6), { class: 'mono', 'data-testid': 'tip-id' }), h('small', {}, ` ${ago(status.tip.time)}`))),
    card('Mempool', `${status.mempool.count} txs, ${bytes(status.mempool.bytes)}`, { 'data-testid': 'mempool-count' }),
    card('Peers', status.peers === null ? 'networking off' : String(status.peers)),
    syncCard(status.sync),
    card('Address index', addrIndexText(status.addrIndex), { 'data-testid': 'addrindex' }))
}

export async function home (main, ctx) {
  const [status, blocks] = await Promise.all([api('status'), api(`blocks?count=${LATEST}`)])
  const body = h('tbody', { id: 'blocks' }, blocks.map(blockRow))
  main.replaceChildren(
    cards(status),
    h('h2', {}, 'Latest blocks'),
    h('table', { class: 'blocks' }, h('thead', {}, h('tr', {}, ['Height', 'Id', 'Time', 'Txs', 'Size', 'Fees'].map(c => h('th', {}, c)))), body))
  ctx.rendered()
  let top = blocks[0]?.height ?? -1
  return {
    async onTip (tip) {
      // The next block: add it on top; anything else (a reorganisation, several at once): read the list again.
      const rows = tip.height === top + 1 && body.firstChild?.dataset.id !== tip.id ? [tip] : await api(`blocks?count=${LATEST}`)
      if (rows.length === 1) {
        const row = blockRow(tip)
        row.classList.add('new')
        body.prepend(row)
        while (body.children.length > LATEST) body.lastChild.remove()
      } else {
        body.replaceChildren(...rows.map(blockRow))
      }
      top = tip.height
    },
    onStatus (s) { main.querySelector('#cards')?.replaceWith(cards(s)) }
  }
}

export async function block (main, ctx, id, page = 0) {
  const b = await api(`block/${encodeURIComponent(id)}?page=${page}`)
  const standingNote = {
    best: `On the best chain, ${b.confirmations} confirmation${b.confirmations === 1 ? '' : 's'}.`,
    stale: 'Stale: a valid block on a branch with less work than the best chain.',
    invalid: 'Invalid: it failed validation; only its header is kept.'
  }[b.standing]
  const pager = b.pages > 1
    ? h('p', { class: 'pager' },
        b.page > 0 ? link(`/block/${b.id}?page=${b.page - 1}`, '← previous') : '',
        ` page ${b.page + 1} of ${b.pages} `,
        b.page + 1 < b.pages ? link(`/block/${b.id}?page=${b.page + 1}`, 'next →') : '')
    : null
  main.replaceChildren(
    h('h1', {}, `Block ${b.height} `, standing(b.standing)),
    h('p', { class: `note ${b.standing}`, 'data-testid': 'standing-note' }, standingNote),
    fields([
      ['Id', h('span', { class: 'mono' }, b.id)],
      ['Height', String(b.height)],
      ['Time', `${time(b.time)} (${ago(b.time)})`],
      b.size === undefined ? null : ['Size', bytes(b.size)],
      b.txCount === undefined ? null : ['Transactions', String(b.txCount)],
      b.fees === undefined ? null : ['Fees', b.fees],
      ['Difficulty', String(b.difficulty)],
      ['Bits', b.bits],
      ['Nonce', h('span', { class: 'mono' }, b.nonce)],
      ['Chain work', h('span', { class: 'mono' }, b.chainwork)],
      ['Transactions root', h('span', { class: 'mono' }, b.txsRoot)],
      ['Parent', b.parent === null ? 'none (genesis)' : link(`/block/${b.parent}`, b.parent, { class: 'mono' })],
      ['Children', b.children.length === 0 ? 'none yet' : h('span', {}, b.children.map(c => h('span', { class: 'child' }, link(`/block/${c.id}`, shortId(c.id), { class: 'mono' }), ' ', standing(c.standing))))]
    ]),
    ...(b.txs === undefined
      ? []
      : [
          h('h2', {}, 'Transactions'),
          table(['Id', 'Inputs', 'Outputs', 'Amount', 'To', 'Size'], b.txs.map(tx => h('tr', {},
            h('td', { class: 'mono' }, link(`/tx/${tx.txid}`, shortId(tx.txid)), tx.coinbase ? h('span', { class: 'badge' }, 'coinbase') : ''),
            h('td', { class: 'num' }, String(tx.inputs)),
            h('td', { class: 'num' }, String(tx.outputs)),
            h('td', { class: 'num' }, tx.amount),
            h('td', { class: 'mono' }, tx.to.map(a => shortId(a, 8)).join(', ') + (tx.outputs > tx.to.length ? ', …' : '')),
            h('td', { class: 'num' }, bytes(tx.size)))), { 'data-testid': 'txs' }),
          pager
        ]))
  ctx.rendered()
}

function addressLink (a) {
  return a === null ? 'unknown' : link(`/address/${a}`, a, { class: 'mono' })
}

export async function tx (main, ctx, txid) {
  const t = await api(`tx/${encodeURIComponent(txid)}`)
  const where = t.inMempool
    ? 'In the mempool: not in a block yet.'
    : t.block !== null
      ? h('span', {}, `${t.confirmations} confirmation${t.confirmations === 1 ? '' : 's'}, in block `, link(`/block/${t.block.id}`, String(t.block.height)), ` (${ago(t.block.time)})`)
      : `Stored here, its block not known: this node keeps no transaction index${t.addrIndex ? ' (the address index has not reached it)' : ' (start it with --addrindex to find any transaction\'s block)'}.`
  main.replaceChildren(
    h('h1', {}, 'Transaction ', t.coinbase ? h('span', { class: 'badge' }, 'coinbase') : ''),
    h('p', { class: 'note', 'data-testid': 'tx-status' }, where),
    fields([
      ['Id', h('span', { class: 'mono', 'data-testid': 'txid' }, t.txid)],
      ['Size', bytes(t.size)],
      ['Total out', t.total],
      t.coinbase ? null : ['Fee', t.fee === null ? 'not computed (too many inputs)' : `${t.fee} (${t.feeRate.toFixed(2)} units/byte)`]
    ]),
    h('h2', {}, `Inputs (${t.inputCount})`),
    t.coinbase
      ? h('p', { class: 'muted' }, 'A coinbase spends no coins: it pays the block\'s subsidy and fees.')
      : table(['Spends', 'Address', 'Amount'], t.inputs.map(i => h('tr', {},
          h('td', { class: 'mono' }, link(`/tx/${i.txid}`, `${shortId(i.txid)}:${i.index}`)),
          h('td', {}, addressLink(i.address)),
          h('td', { class: 'num' }, i.amount ?? 'unknown'))), { 'data-testid': 'inputs' }),
    t.inputsShown < t.inputCount ? h('p', { class: 'muted' }, `The first ${t.inputsShown} of ${t.inputCount} inputs.`) : '',
    h('h2', {}, `Outputs (${t.outputs.length})`),
    table(['#', 'Address', 'Amount', 'Spent'], t.outputs.map(o => h('tr', { dataset: { n: o.n } },
      h('td', { class: 'num' }, String(o.n)),
      h('td', {}, addressLink(o.address)),
      h('td', { class: 'num', 'data-testid': 'amount' }, o.amount),
      h('td', {}, o.spent === null ? '' : o.spent ? 'spent' : 'unspent'))), { 'data-testid': 'outputs' }))
  ctx.rendered()
}

export async function address (main, ctx, text, before) {
  let a
  try {
    a = await api(`address/${encodeURIComponent(text)}${before === null ? '' : `?before=${before}`}`)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 409) throw err
    main.replaceChildren(h('h1', {}, 'Address'), h('p', { class: 'mono' }, text), h('p', { class: 'note', 'data-testid': 'addrindex-off' }, 'The address index is off on this node: start it with --addrindex (it builds in the background) to see what an address received and spent.'))
    ctx.rendered()
    return
  }
  main.replaceChildren(
    h('h1', {}, 'Address'),
    a.status.synced ? '' : h('p', { class: 'note' }, `The address index is still being built (height ${a.status.height} of ${a.status.tip}): what follows is as far as it got.`),
    fields([
      ['Address', h('span', { class: 'mono' }, a.address)],
      ['Balance', a.balance],
      ['Received', a.received],
      ['Sent', a.sent],
      ['Transactions', String(a.txCount)]
    ]),
    h('h2', {}, 'History'),
    table(['Height', 'Transaction', 'Received', 'Sent'], a.entries.map(e => h('tr', {},
      h('td', {}, String(e.height)),
      h('td', { class: 'mono' }, link(`/tx/${e.txid}`, shortId(e.txid))),
      h('td', { class: 'num' }, e.received),
      h('td', { class: 'num' }, e.sent)))),
    a.next === null ? '' : h('p', { class: 'pager' }, link(`/address/${a.address}?before=${a.next}`, 'older →')))
  ctx.rendered()
}

function mempoolBody (m) {
  const widest = Math.max(1, ...m.bands.map(b => b.count))
  return [
    fields([
      ['Transactions', h('span', { 'data-testid': 'mempool-size' }, String(m.count))],
      ['Bytes', bytes(m.bytes)],
      ['Memory', `${bytes(m.usage)} of ${bytes(m.maxUsage)}`],
      ['Lowest fee rate taken', `${m.minFeeRate} units/byte`]
    ]),
    h('h2', {}, 'By fee rate (units/byte)'),
    h('div', { class: 'bands' }, m.bands.map(b => h('div', { class: 'band' },
      h('span', { class: 'range' }, b.max === null ? `${b.min}+` : `${b.min}–${b.max}`),
      h('span', { class: 'bar', dataset: { width: String(Math.round((100 * b.count) / widest)) } }),
      h('span', { class: 'count' }, `${b.count} (${bytes(b.bytes)})`)))),
    h('h2', {}, 'Latest'),
    table(['Id', 'Size', 'Fee rate', 'Arrived'], m.recent.map(r => h('tr', {},
      h('td', { class: 'mono' }, link(`/tx/${r.txid}`, shortId(r.txid))),
      h('td', { class: 'num' }, bytes(r.size)),
      h('td', { class: 'num' }, r.feeRate.toFixed(2)),
      h('td', {}, ago(r.time)))))
  ]
}

/** Bar widths from data attributes: the page's policy allows no inline styles from markup. */
function sizeBars (root) {
  for (const bar of root.querySelectorAll('.bar')) bar.style.width = `${bar.dataset.width}%`
}

export async function mempool (main, ctx) {
  const m = await api('mempool')
  const body = h('div', {}, mempoolBody(m))
  main.replaceChildren(h('h1', {}, 'Mempool'), body)
  sizeBars(body)
  ctx.rendered()
  return {
    onMempool (view) {
      body.replaceChildren(...mempoolBody(view))
      sizeBars(body)
    }
  }
}

export async function peers (main, ctx) {
  const p = await api('peers')
  if (!p.networking) {
    main.replaceChildren(h('h1', {}, 'Peers'), h('p', { class: 'note' }, 'Networking is off (--no-p2p).'))
    ctx.rendered()
    return
  }
  main.replaceChildren(
    h('h1', {}, 'Peers'),
    fields([['This node', h('span', { class: 'mono' }, p.peerId)], ['Listening on', h('span', { class: 'mono' }, p.addresses.join(' '))]]),
    h('h2', {}, `Connected (${p.peers.length})`),
    table(['Peer', 'Address', 'Direction', 'Transport', 'Height', 'Ping', 'Connected'], p.peers.map(peer => h('tr', {},
      h('td', { class: 'mono', title: peer.peerId }, shortId(peer.peerId, 8)),
      h('td', { class: 'mono' }, peer.addr),
      h('td', {}, peer.direction),
      h('td', {}, peer.transport),
      h('td', { class: 'num' }, peer.height === null ? '?' : String(peer.height)),
      h('td', { class: 'num' }, peer.pingMs === null ? '?' : `${Math.round(peer.pingMs)} ms`),
      h('td', {}, peer.since === null ? '?' : ago(peer.since / 1000))))))
  ctx.rendered()
}
