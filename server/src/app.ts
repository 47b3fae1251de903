import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import type { Caller } from './auth.ts'
import { AppError } from './errors.ts'
import type { GroupService } from './groups.ts'
import type { ServerMetrics } from './metrics.ts'
import type { ServerOptions } from './options.ts'
import type { SummaryService } from './summaries.ts'
import type { Rooms } from './sync/rooms.ts'

/** Services that route handlers reach through the context. */
export interface AppServices {
  options: ServerOptions
  groups: GroupService
  summaries: SummaryService
  rooms: Rooms
  metrics: ServerMetrics
}

export type AppEnv = {
  Variables: {
    services: AppServices
    caller: Caller
  }
}

/** Builds an OpenAPIHono app whose failed validations and thrown errors become `{ error: { code, message } }`. */
export function createApp(services: AppServices): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new AppError(
          'invalid_request',
          validationMessage(result.target, result.error.issues),
          {
            issues: result.error.issues,
          },
        )
      }
    },
  })

  app.use(async (c, next) => {
    c.set('services', services)
    await next()
    services.metrics.httpRequests.inc({ status: String(c.res.status) })
  })

  if (services.options.corsOrigins.length > 0) {
    app.use(
      '/v1/*',
      cors({
        origin: services.options.corsOrigins,
        allowHeaders: ['authorization', 'content-type'],
        allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
        exposeHeaders: ['retry-after'],
        maxAge: 600,
      }),
    )
  }

  app.onError((error, c) => errorResponse(c, error, services))
  app.notFound((c) =>
    errorResponse(
      c,
      new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`),
      services,
    ),
  )

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/metrics', async (c) => {
    const body = await services.metrics.registry.metrics()
    return c.body(body, 200, { 'content-type': services.metrics.registry.contentType })
  })
  return app
}

/** Names the part of the request that failed and its first problems, for example `invalid query: limit: …`. */
function validationMessage(
  target: string,
  issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }>,
): string {
  let part = target
  if (target === 'json') part = 'body'
  if (target === 'param') part = 'path'
  const problems = issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : ''
  return `invalid ${part}: ${problems.join('; ')}${more}`
}

function errorResponse(c: Context, error: Error, services: AppServices): Response {
  if (error instanceof AppError) {
    const body: { code: string; message: string; issues?: unknown[] } = {
      code: error.code,
      message: error.message,
    }
    if (error.extra.issues !== undefined) body.issues = error.extra.issues
    if (error.extra.retryAfterSeconds !== undefined)
      c.header('retry-after', String(error.extra.retryAfterSeconds))
    return c.json({ error: body }, error.status)
  }
  if (error instanceof HTTPException) {
    const code =
      error.status === 413
        ? 'payload_too_large'
        : error.status === 401
          ? 'unauthorized'
          : 'invalid_request'
    return c.json({ error: { code, message: error.message || 'invalid request' } }, error.status)
  }

  services.options.logger.error(
    { err: error, method: c.req.method, path: c.req.path },
    'request failed',
  )
  return c.json({ error: { code: 'internal', message: 'internal server error' } }, 500)
}
