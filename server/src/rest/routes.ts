import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv, AppServices } from '../app.ts'
import { EventHub } from './event-hub.ts'
import { registerEventRoutes } from './events.ts'
import { registerGroupRoutes } from './groups.ts'
import { registerMessageRoutes } from './messages.ts'
import { authenticate, limitBody } from './middleware.ts'
import { registerOpenApi } from './openapi.ts'
import { registerQueryRoutes } from './queries.ts'
import { RateLimiter } from './rate-limiter.ts'
import { registerReadingRoutes } from './reading.ts'
import { registerReceiptRoutes } from './receipts.ts'
import { TokenCache } from './token-cache.ts'

/**
 * Registers every REST route under /v1 and the OpenAPI document and its page. Returns a function
 * that stops their timers and ends the event streams.
 */
export function registerRoutes(app: OpenAPIHono<AppEnv>, services: AppServices): () => void {
  const { options } = services
  const logger = options.logger.child({ component: 'rest' })
  const limiter = new RateLimiter(options.rateLimitPerMinute)
  const tokens = new TokenCache(options.authSecret)
  const hub = new EventHub(services.summaries, options.eventIntervalMs, logger)

  app.use('/v1/*', authenticate(tokens, limiter), limitBody(options.maxBodyBytes))
  registerGroupRoutes(app, services)
  registerMessageRoutes(app, services)
  registerReadingRoutes(app, services)
  registerReceiptRoutes(app, services)
  registerQueryRoutes(app, services)
  registerEventRoutes(app, services, hub)
  registerOpenApi(app)

  return () => {
    limiter.stop()
    tokens.clear()
    hub.close()
  }
}
