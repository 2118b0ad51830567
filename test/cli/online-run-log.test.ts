// online.json is read by whoever can read the run directory: a Redis password never goes in
// it, and the dashboard adds credentials back from its own environment.

import { describe, expect, it } from 'vitest'
import { onlineRunConfig, withCredentials, withoutCredentials } from '../../src/cli/online-run-log.ts'

describe('the Redis URL in online.json', () => {
  it('drops the user and password, and keeps everything else', () => {
    expect(withoutCredentials('redis://alice:s3cret@10.0.0.5:6380/2')).toBe('redis://10.0.0.5:6380/2')
    expect(withoutCredentials('redis://:s3cret@127.0.0.1:6379')).toBe('redis://127.0.0.1:6379')
    expect(withoutCredentials('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379')
  })

  it('is stored without credentials by onlineRunConfig', () => {
    const flags = { label: 'y', numClasses: 2, model: 'mlp', seed: 0, batch: 1, window: 100 } as unknown as Parameters<typeof onlineRunConfig>[0]
    const c = onlineRunConfig(flags, { type: 'redis', url: 'redis://bob:pw@127.0.0.1:7000', stream: 's', group: 'g' }, 0)
    expect(JSON.stringify(c)).not.toContain('pw')
    expect(c.source).toMatchObject({ type: 'redis', url: 'redis://127.0.0.1:7000', stream: 's', group: 'g' })
  })

  it('gets credentials back from GRADSTREAM_REDIS_USER / GRADSTREAM_REDIS_PASSWORD only', () => {
    expect(withCredentials('redis://127.0.0.1:7000', {})).toBe('redis://127.0.0.1:7000')
    expect(withCredentials('redis://127.0.0.1:7000', { GRADSTREAM_REDIS_PASSWORD: 'p w' })).toBe('redis://:p%20w@127.0.0.1:7000')
    expect(withCredentials('redis://127.0.0.1:7000', { GRADSTREAM_REDIS_USER: 'u', GRADSTREAM_REDIS_PASSWORD: 'p' })).toBe('redis://u:p@127.0.0.1:7000')
  })
})
