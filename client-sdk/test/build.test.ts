import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { BrowserSmokeResult } from './fixtures/browser-smoke.ts'
import {
  createGroup,
  Fixture,
  freshGroupId,
  serverWatermark,
  startServer,
  type TestServer,
} from './helpers.ts'

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const repositoryModules = resolve(packageRoot, '../node_modules')
const CHROMIUM = '/usr/bin/chromium'

let test: TestServer
let fixture: Fixture
/** A folder whose node_modules contains the built package, as an application that installed it. */
let app: string

beforeAll(() => {
  execFileSync(process.execPath, [join(packageRoot, 'scripts/build.mjs')], { stdio: 'pipe' })
  app = mkdtempSync(join(tmpdir(), 'readmark-app-'))
  mkdirSync(join(app, 'node_modules/@readmark'), { recursive: true })
  symlinkSync(join(packageRoot, 'dist'), join(app, 'node_modules/@readmark/client-sdk'))
  symlinkSync(join(repositoryModules, 'ws'), join(app, 'node_modules/ws'))
}, 60_000)

afterAll(() => {
  rmSync(app, { recursive: true, force: true })
})

beforeEach(async () => {
  test = await startServer()
  fixture = new Fixture()
})

afterEach(async () => {
  await fixture.cleanup()
  await test.close()
})

/** Number of Yjs client ids in the server's copy of a group document. */
async function serverClientIds(groupId: string): Promise<number> {
  return test.server.rooms.use(groupId, (room) => room.doc.store.clients.size)
}

describe('built package', () => {
  it('runs in Node 20 through its exports', async () => {
    const groupId = freshGroupId()
    await createGroup(test, groupId, ['alice', 'bob'], 1)
    await build({
      entryPoints: [join(packageRoot, 'test/fixtures/node-smoke.ts')],
      outfile: join(app, 'node-smoke.mjs'),
      format: 'esm',
      logLevel: 'warning',
    })

    const { stdout } = await promisify(execFile)(process.execPath, [join(app, 'node-smoke.mjs')], {
      cwd: app,
      env: {
        ...process.env,
        READMARK_URL: test.server.url,
        READMARK_TOKEN: await test.token('bob'),
        READMARK_GROUP: groupId,
        READMARK_FOLDER: fixture.folder(),
      },
      timeout: 20_000,
    })

    expect(JSON.parse(stdout)).toEqual({ watermark: 1, unconfirmed: 0 })
    expect(await serverWatermark(test, groupId, 'bob')).toBe(1)
  })

  it.skipIf(!existsSync(CHROMIUM))(
    'runs in Chromium with IndexedDB and Web Locks',
    async () => {
      const groupId = freshGroupId()
      await createGroup(test, groupId, ['alice', 'bob'], 3)
      const idsBefore = await serverClientIds(groupId)
      const bundle = await build({
        entryPoints: [join(packageRoot, 'test/fixtures/browser-smoke.ts')],
        absWorkingDir: app,
        nodePaths: [join(app, 'node_modules'), repositoryModules],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'warning',
      })
      const script = bundle.outputFiles[0]?.text ?? ''

      // Chromium treats a page that page.route() serves as public, and its Local Network Access
      // checks would then block the page's WebSocket to 127.0.0.1.
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-features=LocalNetworkAccessChecks'],
      })
      try {
        const page = await browser.newPage()
        const pageErrors: string[] = []
        page.on('pageerror', (error) => pageErrors.push(error.message))
        // The page is served from the server's origin, so that its REST calls are same-origin.
        await page.route(`${test.server.url}/smoke/**`, (route) =>
          route.request().url().endsWith('.js')
            ? route.fulfill({ contentType: 'text/javascript', body: script })
            : route.fulfill({
                contentType: 'text/html',
                body: '<script type="module" src="/smoke/app.js"></script>',
              }),
        )
        await page.goto(`${test.server.url}/smoke/index.html`)
        await page.waitForFunction(() => 'runSmoke' in globalThis)

        const token = await test.token('bob')
        const result = (await page.evaluate(
          ([token, groupId]) =>
            (
              globalThis as unknown as {
                runSmoke(token: string, groupId: string): Promise<unknown>
              }
            ).runSmoke(token as string, groupId as string),
          [token, groupId],
        )) as BrowserSmokeResult

        expect(pageErrors).toEqual([])
        expect(result).toEqual({
          secondClientError: 'storage-locked',
          watermarkAfterRestart: 3,
          unconfirmedAfterRestart: 1,
          finalUnconfirmed: 0,
          sentSeq: 4,
        })
        expect(await serverWatermark(test, groupId, 'bob')).toBe(4)
        expect(await serverClientIds(groupId)).toBe(idsBefore + 1)
      } finally {
        await browser.close()
      }
    },
    60_000,
  )
})
