// Reading the dashboard server's JSON in tests: a GET with the run's token that must answer 200.

import { expect } from 'vitest'
import type { Dashboard } from '../src/server/dashboard-server.ts'

/** GET `path` on the dashboard with its token; the status must be 200; the body as JSON. */
export const dashboardJson = async <T = Record<string, unknown>>(dash: Dashboard, path: string): Promise<T> => {
  const r = await fetch(`http://127.0.0.1:${dash.port}${path}`, { headers: { authorization: `Bearer ${dash.token}` } })
  expect(r.status, `${path}: ${await r.clone().text()}`).toBe(200)
  return (await r.json()) as T
}

/** One position of an online run's scrubber (/api/runs/<id>/position). */
export interface OnlinePosition {
  record: number
  step: number
  entryId: string
  hash: string
  tensors: { name: string; norm: number }[]
}
