// The two streams a command writes to (process.stdout / process.stderr, or a test's capture).

export interface Io {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}
