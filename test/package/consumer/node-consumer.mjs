// Run from a fresh project with the tarball installed: node node-consumer.mjs THREADS
import * as gs from 'gradstream'
import { trainSmall } from './train-small.mjs'

const threads = Number(process.argv[2] ?? '1')
const result = await trainSmall(gs, { threads })
console.log(JSON.stringify({ ...result, hasLoadMnist: typeof gs.loadMnist === 'function' }))
