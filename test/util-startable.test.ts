import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ServiceList, type Startable } from '../src/util/startable.ts'

/** A service that records its calls in `log`; its start waits for `gate` when given one. */
function service (name: string, log: string[], gate?: Promise<void>): Startable {
  return {
    start: async () => { log.push(`start ${name}`); await gate },
    afterStart: () => { log.push(`afterStart ${name}`) },
    beforeStop: () => { log.push(`beforeStop ${name}`) },
    stop: async () => { log.push(`stop ${name}`) }
  }
}

test('a service list starts in order, runs afterStart once all started, and stops in reverse after every beforeStop; twice is once', async () => {
  const log: string[] = []
  const list = new ServiceList([service('a', log), undefined, service('b', log), service('c', log)])
  await Promise.all([list.start(), list.start()])
  assert.equal(await list.start(), true)
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'afterStart a', 'afterStart b', 'afterStart c'])
  log.length = 0
  await Promise.all([list.stop(), list.stop()])
  await list.stop()
  assert.deepEqual(log, ['beforeStop c', 'beforeStop b', 'beforeStop a', 'stop c', 'stop b', 'stop a'])
})

test('a stop while the list starts starts nothing more, waits for the start under way, then stops everything in reverse', async () => {
  const log: string[] = []
  let open = (): void => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  const list = new ServiceList([service('a', log), service('b', log, gate), service('c', log)])
  const started = list.start()
  await new Promise(resolve => setImmediate(resolve))
  const stopped = list.stop()
  assert.deepEqual(log, ['start a', 'start b', 'beforeStop c', 'beforeStop b', 'beforeStop a'])
  open()
  assert.equal(await started, false, 'the start says it was cut short')
  await stopped
  assert.deepEqual(log.slice(5), ['stop c', 'stop b', 'stop a'], 'c never started, and stops safely')
})
