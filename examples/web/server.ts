import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer, mintToken, type ReadmarkServer } from '@readmark/server'
import { build } from 'esbuild'
import { ReadmarkApi, ReadmarkApiError } from '../backend/readmark-api.ts'

const HERE = fileURLToPath(new URL('.', import.meta.url))

/** The group of the example and its members; alice owns it. */
export const GROUP_ID = 'web-example'
export const USERS = ['alice', 'bob', 'carol', 'dave'] as const

const CONVERSATION: ReadonlyArray<[sender: string, body: string]> = [
  ['alice', 'Morning! The 1.4 release branch is cut.'],
  ['carol', 'Great. Are the migration notes in?'],
  ['alice', 'Most of them. The index rebuild part is still missing.'],
  ['dave', 'I can write that one today.'],
  ['alice', 'Thanks, dave.'],
  ['carol', 'CI is red on the Postgres job, looking into it.'],
  ['dave', 'It is the flaky locale test again.'],
  ['carol', 'Pinned the locale, rerunning.'],
  ['carol', 'Green now.'],
  ['alice', 'Then we tag tomorrow at 10:00 UTC.'],
  ['dave', 'Notes for the index rebuild are up for review.'],
  ['alice', 'Reviewed, two small comments.'],
  ['dave', 'Fixed both.'],
  ['carol', 'Who writes the announcement?'],
  ['alice', 'I will, draft by tonight.'],
  ['alice', 'Please read the draft before 9:00 so we can tag on time.'],
]

/** A running web example: the readmark server with the page on the same origin. */
export interface WebExample {
  /** http origin of the page and the API, on 127.0.0.1. */
  url: string
  groupId: string
  /** The backend's REST client with a service token. */
  api: ReadmarkApi
  close(): Promise<void>
}

export interface WebExampleOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number
  /** The server's LevelDB folder; a temporary one, removed by close(), when unset. */
  dataDir?: string
  /** How many messages of the sample conversation to post at start, all of them by default. */
  seedMessages?: number
}

/**
 * Starts the readmark server and serves the chat page next to its API. `/` is the page, and
 * `/app.js` the browser bundle of `src/app.ts` with the client SDK, built by esbuild at start.
 * `/session?user=ID` does the application backend's part: it signs users in by minting their
 * tokens. Creates the group and posts the sample conversation unless the data folder already has
 * the group.
 */
export async function startWebExample(options: WebExampleOptions = {}): Promise<WebExample> {
  const temporary = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'readmark-web-example-'))
  const secret = randomBytes(32).toString('hex')
  const bundle = await buildBundle()
  const html = readFileSync(join(HERE, 'public/index.html'), 'utf8')
  const css = readFileSync(join(HERE, 'public/app.css'), 'utf8')

  const server: ReadmarkServer = await createServer({
    dataDir,
    authSecret: secret,
    port: options.port ?? 0,
    host: '127.0.0.1',
  })
  const { app } = server
  // Names the browser's IndexedDB storage after this group's creation, so a page never mixes a
  // replica of an earlier example server's group into this one.
  let groupCreatedAt = 0
  app.get('/', (c) => c.html(html))
  app.get('/app.js', (c) => c.body(bundle.script, 200, { 'content-type': 'text/javascript' }))
  app.get('/app.js.map', (c) =>
    c.body(bundle.sourceMap, 200, { 'content-type': 'application/json' }),
  )
  app.get('/app.css', (c) => c.body(css, 200, { 'content-type': 'text/css' }))
  app.get('/favicon.ico', (c) => c.body(null, 204))
  app.get('/session', async (c) => {
    const userId = c.req.query('user') ?? ''
    if (!(USERS as readonly string[]).includes(userId)) {
      return c.json(
        { error: { code: 'not_found', message: `no user "${userId}"; try ${USERS.join(', ')}` } },
        404,
      )
    }
    const token = await mintToken(secret, userId, { ttlSeconds: 3_600 })
    return c.json({ userId, groupId: GROUP_ID, token, storage: `web-example-${groupCreatedAt}` })
  })

  try {
    await server.listen()
    const api = new ReadmarkApi(
      server.url,
      await mintToken(secret, 'web-backend', { service: true }),
    )
    groupCreatedAt = await seedGroup(api, options.seedMessages ?? CONVERSATION.length)
    return {
      url: server.url,
      groupId: GROUP_ID,
      api,
      close: async () => {
        await server.close()
        if (temporary) rmSync(dataDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await server.close()
    if (temporary) rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

/**
 * Creates the group with the sample conversation, or leaves a group that exists as it is.
 * Returns the group's creation time.
 */
async function seedGroup(api: ReadmarkApi, messages: number): Promise<number> {
  let createdAt: number
  try {
    const group = await api.createGroup(GROUP_ID, [
      { userId: 'alice', role: 'owner' },
      ...USERS.slice(1).map((userId) => ({ userId })),
    ])
    createdAt = group.createdAt
  } catch (error) {
    if (!(error instanceof ReadmarkApiError) || error.code !== 'conflict') throw error
    return (await api.summary(GROUP_ID)).createdAt
  }
  for (const [index, [sender, body]] of CONVERSATION.slice(0, messages).entries()) {
    await api.sendMessage(GROUP_ID, sender, `seed-${index + 1}`, body)
  }
  return createdAt
}

/** Bundles the page's script with the client SDK for browsers; returns the script and its source map. */
async function buildBundle(): Promise<{ script: string; sourceMap: string }> {
  const result = await build({
    entryPoints: [join(HERE, 'src/app.ts')],
    outfile: join(HERE, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'linked',
    minify: true,
    logLevel: 'warning',
  })
  const script = result.outputFiles.find((file) => file.path.endsWith('app.js'))
  const sourceMap = result.outputFiles.find((file) => file.path.endsWith('app.js.map'))
  if (script === undefined || sourceMap === undefined) {
    throw new Error('esbuild produced no bundle for src/app.ts')
  }
  return { script: script.text, sourceMap: sourceMap.text }
}
