import tseslint from 'typescript-eslint'

/**
 * The layers, lowest first, as docs/architecture.md states them ("Layers"). A
 * file imports from its own folder and from lower levels, never from a higher
 * level nor from another folder of its own level: services of one level meet in
 * the node, which wires them. bench/ stands beside cli; test/ imports anything.
 * test/lint-layers.test.ts checks this table against the docs and plants
 * imports that must be reported.
 */
const LAYERS = [
  ['util', 'core', 'log.ts'],
  ['chain'],
  ['miner', 'p2p', 'wallet', 'index', 'ipfs'],
  ['rpc', 'http'],
  ['node'],
  ['swarm'],
  ['cli', 'bench']
]

const filesOf = name => name === 'bench' ? 'bench/**' : name.endsWith('.ts') ? `src/${name}` : `src/${name}/**`
/** How a relative import names that layer: a path through its folder, or the file itself. */
const pathOf = name => name.endsWith('.ts') ? `${name.replaceAll('.', '\\.')}$` : `${name}/`

/**
 * The mempool changes only through the chain: above src/chain, only the
 * chain's builder (which makes the pool the chain holds) and the mempool's
 * own benchmark import the Mempool class; every other file takes MempoolView
 * (chain/ports.ts), which has no mutator.
 */
const MEMPOOL_MAKERS = ['src/node/build-chain.ts', 'bench/mempool.ts']
const MEMPOOL_CLASS = {
  regex: '^\\.\\.?/(?:.*/)?chain/mempool\\.ts$',
  importNames: ['Mempool'],
  message: 'the mempool changes only through the chain: take MempoolView (chain/ports.ts), not the Mempool class'
}

/**
 * One block per layer: `no-restricted-imports` sees import (type imports too),
 * export-from and import-equals; `no-restricted-syntax` sees import(). Only
 * relative specifiers match, so a package's path never does. (A file's last
 * block sets its rule: the mempool's makers get their layer's without the
 * mempool's.)
 */
const layerRules = (name, n, { mempool }) => {
  const below = LAYERS.slice(0, n).flat()
  const barred = LAYERS.flat().filter(other => other !== name && !below.includes(other))
  const regex = `^\\.\\.?/(?:.*/)?(?:${barred.map(pathOf).join('|')})`
  const message = `${name} imports only from ${below.length === 0 ? 'itself' : `itself and ${below.join(', ')}`} (layers in docs/architecture.md)`
  return {
    'no-restricted-imports': ['error', { patterns: [{ regex, caseSensitive: true, message }, ...(mempool && n > 1 ? [MEMPOOL_CLASS] : [])] }],
    'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`, message: `import() across the layers: ${message}` }]
  }
}
const levelOf = name => LAYERS.findIndex(level => level.includes(name))
const layerBlocks = [
  ...LAYERS.flatMap((level, n) => level.map(name => ({ files: [filesOf(name)], rules: layerRules(name, n, { mempool: true }) }))),
  ...MEMPOOL_MAKERS.map(file => {
    const name = file.startsWith('bench/') ? 'bench' : file.split('/')[1]
    return { files: [file], rules: layerRules(name, levelOf(name), { mempool: false }) }
  })
]

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always']
    }
  },
  ...layerBlocks
)
