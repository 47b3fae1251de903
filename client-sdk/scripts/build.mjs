// Builds the publishable package into client-sdk/dist: ESM bundles for Node and browsers made by
// esbuild, type declarations made by tsc, and a package.json whose exports point at them. The
// private workspace package @readmark/shared is bundled in, so dist needs no workspace.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const source = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Packages the bundles import at run time; everything else, @readmark/shared included, is bundled. */
const runtimePackages = Object.keys(source.dependencies).filter(
  (name) => !name.startsWith('@readmark/'),
)
const external = ['yjs', 'ws', ...runtimePackages.flatMap((name) => [name, `${name}/*`])]

rmSync(dist, { recursive: true, force: true })

await build({
  absWorkingDir: root,
  entryPoints: { index: 'src/index.ts', node: 'src/node.ts', browser: 'src/browser.ts' },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external: [...external, 'node:*'],
  sourcemap: true,
  logLevel: 'warning',
})

execFileSync(
  process.execPath,
  [join(root, '../node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
)

rewriteDeclarationImports(join(dist, 'types'))
checkImports()
writePackageJson()
copyFileSync(join(root, 'README.md'), join(dist, 'README.md'))
console.log(`built ${dist}`)

/**
 * Makes the declarations import `./x.js` instead of `./x.ts`: tsc keeps the source's extensions
 * in declaration files, which consumers without allowImportingTsExtensions cannot read.
 */
function rewriteDeclarationImports(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
    const file = join(entry.parentPath, entry.name)
    const text = readFileSync(file, 'utf8')
    writeFileSync(file, text.replace(/(['"])(\.{1,2}\/[^'"]+)\.ts\1/g, '$1$2.js$1'))
  }
}

/**
 * Fails the build when an entry reaches a module that does not belong in its environment. The
 * browser entry must not load node: modules or y-leveldb, and the Node entry not y-indexeddb. No
 * declaration file may name a workspace package, because consumers cannot resolve it.
 */
function checkImports() {
  const forbidden = {
    'browser.js': (specifier) =>
      specifier.startsWith('node:') ||
      builtinModules.includes(specifier) ||
      specifier.startsWith('y-leveldb'),
    'node.js': (specifier) => specifier.startsWith('y-indexeddb'),
    'index.js': (specifier) =>
      specifier.startsWith('node:') ||
      specifier.startsWith('y-leveldb') ||
      specifier.startsWith('y-indexeddb'),
    'types/index.d.ts': (specifier) => specifier.startsWith('@readmark/'),
    'types/node.d.ts': (specifier) => specifier.startsWith('@readmark/'),
    'types/browser.d.ts': (specifier) => specifier.startsWith('@readmark/'),
  }
  for (const [entry, isForbidden] of Object.entries(forbidden)) {
    for (const [file, specifier] of reachableImports(join(dist, entry))) {
      if (isForbidden(specifier)) {
        throw new Error(`dist/${entry} reaches "${specifier}" through ${file}; it must not`)
      }
    }
  }
}

/** Returns every [file, bare specifier] reachable from a file through relative imports. */
function reachableImports(start) {
  const seen = new Set()
  const found = []
  const pending = [start]
  while (pending.length > 0) {
    const file = pending.pop()
    if (seen.has(file)) continue
    seen.add(file)

    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const specifier = match[1]
      if (!specifier.startsWith('.')) {
        found.push([file, specifier])
        continue
      }
      const target = resolve(dirname(file), specifier)
      const candidates = [target, target.replace(/\.js$/, '.d.ts'), `${target}.d.ts`]
      const next = candidates.find(
        (candidate) => existsSync(candidate) && candidate.match(/\.(js|ts)$/),
      )
      if (next === undefined) throw new Error(`${file} imports "${specifier}", which is missing`)
      pending.push(next)
    }
  }
  return found
}

function writePackageJson() {
  const entry = (name) => ({ types: `./types/${name}.d.ts`, default: `./${name}.js` })
  const dependencies = Object.fromEntries(
    runtimePackages.map((name) => [name, source.dependencies[name]]),
  )
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    license: 'MIT',
    type: 'module',
    sideEffects: false,
    engines: { node: '>=20' },
    types: './types/index.d.ts',
    exports: {
      '.': { browser: entry('browser'), node: entry('node'), ...entry('index') },
      './node': entry('node'),
      './browser': entry('browser'),
      './package.json': './package.json',
    },
    peerDependencies: source.peerDependencies,
    peerDependenciesMeta: source.peerDependenciesMeta,
    dependencies,
  }
  writeFileSync(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
}
