/**
 * The layer rule of eslint.config.js against the order docs/architecture.md
 * states: imports planted in every layer, to every other, are reported exactly
 * when they go up or sideways.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { ESLint } from 'eslint'

const root = new URL('..', import.meta.url).pathname
const eslint = new ESLint({ cwd: root })

/** The levels of the docs' line `layers: a, b ← c ← {d, e} …`, lowest first. */
async function documentedLayers (): Promise<string[][]> {
  const doc = await readFile(join(root, 'docs/architecture.md'), 'utf8')
  const line = /^\s*layers: (.+)$/m.exec(doc)
  assert.ok(line !== null, 'docs/architecture.md states the layers')
  return line[1].split('←').map(level => level.replace(/[{}]/g, '').split(',').map(name => name.trim()))
}

/** Where a planted file of the layer stands (one folder deeper too, to see that depth does not matter), and a module of it to import. */
function placesOf (name: string): { planted: string[], module: string } {
  if (name === 'bench') return { planted: ['bench/planted.ts', 'bench/deep/planted.ts'], module: 'bench/fixtures.ts' }
  if (name.endsWith('.ts')) return { planted: [`src/${name}`], module: `src/${name}` }
  return { planted: [`src/${name}/planted.ts`, `src/${name}/deep/planted.ts`], module: `src/${name}/any.ts` }
}

/** Messages of the layer rule for `code` linted as the file `path`; the file need not exist. */
async function layerErrors (path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) })
  return result.messages.filter(m => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map(m => m.message)
}

test('every folder of src has a layer', async () => {
  const layers = (await documentedLayers()).flat()
  const entries = (await readdir(join(root, 'src'), { withFileTypes: true })).map(e => e.name)
  assert.deepEqual(entries.filter(e => !layers.includes(e)), [], 'a folder of src/ is missing from the layers')
  assert.deepEqual(layers.filter(l => l !== 'bench' && !entries.includes(l)), [], 'a layer names no folder of src/')
})

test('an import from a higher layer or a sibling is reported; one from below or from itself is not', async () => {
  const levels = await documentedLayers()
  const levelOf = new Map(levels.flatMap((level, n) => level.map(name => [name, n] as const)))
  let barred = 0
  for (const [from, fromLevel] of levelOf) {
    for (const planted of placesOf(from).planted) {
      for (const [to, toLevel] of levelOf) {
        let spec = relative(join(root, planted, '..'), join(root, placesOf(to).module))
        if (!spec.startsWith('.')) spec = `./${spec}`
        // A type import, a re-export and a dynamic import: each is a dependency.
        const code = [
          `import type { A } from '${spec}'`,
          `export { B } from '${spec}'`,
          `export const c = async (): Promise<unknown> => await import('${spec}')`,
          'export type D = A'
        ].join('\n')
        const errors = await layerErrors(planted, code)
        const allowed = to === from || toLevel < fromLevel
        if (!allowed) barred++
        assert.equal(errors.length, allowed ? 0 : 3, `${planted} importing ${spec} (${from} → ${to}): ${errors.join('; ') || 'not reported'}`)
      }
    }
  }
  // Every layer but the top one has some layer above it or beside it.
  assert.ok(barred > levelOf.size, `only ${barred} barred pairs were planted`)
})

test('package imports are never mistaken for a layer', async () => {
  const code = "import { x } from 'node:fs'\nimport { y } from '@libp2p/utils/rpc/node.js'\nimport { z } from 'p2p/wallet/cli'\n"
  assert.deepEqual(await layerErrors('src/core/planted.ts', code), [])
})

test('above src/chain the Mempool class is imported only where the chain is built (and by its benchmark): the mempool changes only through the chain', async () => {
  const imports = (spec: string): string => `import { Mempool } from '${spec}'\nimport type { MempoolView } from '${spec.replace('mempool.ts', 'ports.ts')}'\nexport const m: MempoolView | Mempool | undefined = undefined\n`
  const barred = (errors: string[]): boolean => errors.some(e => e.includes('the mempool changes only through the chain'))
  for (const planted of ['src/node/planted.ts', 'src/p2p/planted.ts', 'src/rpc/methods/planted.ts', 'src/swarm/planted.ts', 'src/cli/planted.ts', 'bench/planted.ts']) {
    const spec = relative(join(root, planted, '..'), join(root, 'src/chain/mempool.ts'))
    assert.equal(barred(await layerErrors(planted, imports(spec.startsWith('.') ? spec : `./${spec}`))), true, `${planted} importing Mempool is reported`)
  }
  // Its view, and what else the file exports, are anyone's; the chain and the chain's builder hold the class.
  assert.deepEqual(await layerErrors('src/node/planted.ts', "import { isPackageLimitError } from '../chain/mempool.ts'\nimport type { MempoolView } from '../chain/ports.ts'\nexport type V = MempoolView\nexport const f = isPackageLimitError\n"), [])
  assert.deepEqual(await layerErrors('src/chain/planted.ts', imports('./mempool.ts')), [])
  assert.deepEqual(await layerErrors('src/node/build-chain.ts', imports('../chain/mempool.ts')), [])
  assert.deepEqual(await layerErrors('bench/mempool.ts', imports('../src/chain/mempool.ts')), [])
  // The makers keep their layer's rule.
  assert.equal((await layerErrors('src/node/build-chain.ts', "import { x } from '../swarm/swarm.ts'\nexport const y = x\n")).length, 1)
})
