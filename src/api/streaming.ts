// The `streaming` namespace of the public API: online learning's building blocks beside
// `online` itself - the learner, event filters, pulled record sources and the
// broker-neutral log interface (a Kafka or NATS adapter implements it).
export { isIssueEvent, isSnapshotEvent, onlineIssues, onlineLearner, onlineSnapshots } from '../streams/online.ts'
export { MAX_LINE_LENGTH, pulled, recordsFromLines, recordsFromObjects, recordsFromReadable, textLines } from '../streams/record-source.ts'
export { entryRecord } from '../streams/log-source.ts'
export { joinedRecords } from '../streams/joined-records.ts'
export { decodeWaiting, encodeWaiting } from '../streams/waiting-codec.ts'
