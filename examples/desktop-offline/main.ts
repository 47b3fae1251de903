import { runStory } from './story.ts'

// Runs the whole offline story with its own server on 127.0.0.1; see README.md.
await runStory((line) => process.stdout.write(`${line}\n`))
