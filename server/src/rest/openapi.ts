import { swaggerUI } from '@hono/swagger-ui'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from '../app.ts'
import { api } from './schemas.ts'

export const OPENAPI_PATH = '/openapi.json'
export const DOCS_PATH = '/docs'

/**
 * Serves the OpenAPI 3.1 document generated from the routes' zod schemas, and Swagger UI on it.
 * Neither needs a token.
 */
export function registerOpenApi(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'HS256 JWT with claim `sub` = user id; `role: "service"` marks the backend.',
  })

  // Event data is sent as text, so no route refers to its schema. Register it by name.
  app.openAPIRegistry.register('CountsEvent', api.CountsEvent)

  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'readmark',
      version: '0.1.0',
      description:
        'Read receipts for group chat. Errors are `{ error: { code, message } }` with a stable ' +
        '`code`; invalid input adds the zod `issues`.',
    },
    security: [{ bearer: [] }],
  })

  // NOTE: the page loads Swagger UI's script and styles from a CDN, so it needs internet access.
  app.get(DOCS_PATH, swaggerUI({ url: OPENAPI_PATH, title: 'readmark API' }))
}
