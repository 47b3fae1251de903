import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv, AppServices } from '../app.ts'

/** Registers every REST route under /v1; returns a function that stops their timers. */
export function registerRoutes(_app: OpenAPIHono<AppEnv>, _services: AppServices): () => void {
  return () => undefined
}
