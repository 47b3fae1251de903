export { type Caller, mintToken, verifyToken } from './auth.ts'
export { AppError, type ErrorCode } from './errors.ts'
export { InvalidOptionsError, type ServerOptions, type ServerOptionsInput } from './options.ts'
export { createServer, type ReadmarkServer } from './server.ts'
