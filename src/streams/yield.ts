// One turn of the event loop, on any platform: Node's setImmediate where it exists (it
// runs before timers and I/O polling ends), else a MessageChannel message (browsers and
// Web Workers; not clamped to 4 ms like a nested setTimeout(0)).

const viaChannel = (): (() => Promise<void>) => {
  // Typed structurally: Node's and the DOM's MessagePort differ, and this runs only where
  // setImmediate is missing (a browser page or Web Worker).
  interface Port {
    onmessage: (() => void) | null
    postMessage(value: number): void
  }
  const channel = new MessageChannel() as unknown as { port1: Port; port2: Port }
  const waiting: (() => void)[] = []
  channel.port1.onmessage = () => waiting.shift()?.()
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve)
      channel.port2.postMessage(0)
    })
}

export const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((resolve) => setImmediate(resolve)) : viaChannel()
