// Types of train-small.mjs for the repo's own tests (the consumer file is plain JavaScript).
export interface SmallRun {
  readonly steps: number
  readonly firstLoss: number
  readonly lastLoss: number
  readonly hash: string
}
export declare const trainSmall: (gs: unknown, options?: { threads?: number; executor?: unknown }) => Promise<SmallRun>
