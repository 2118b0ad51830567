// gradstream's Redis entry (`gradstream/redis`, Node only; re-exports only): online learning
// from Redis Streams exactly once, model publication and followers (issue 15). Apart from
// the Node entry so that a project that never talks to Redis does not load the client or
// its type declarations.

// Online learning from Redis Streams, exactly once; model publication and followers (issue 15)
export { latestLogCheckpoint, logResumeOf, onlineFromLog, ZERO_COUNTS } from './streams/log-online.ts'
export type { LogCheckpointEvent, LogCounts, LogModel, LogOnlineEvent, LogOnlineOptions, LogResume } from './streams/log-online.ts'
export { compareStreamIds, redisConsumer } from './streams/redis-source.ts'
export type { RedisConsumerOptions } from './streams/redis-source.ts'
export { appendEntries, entriesOfLines, produceLines } from './streams/redis-sink.ts'
export type { ProduceOptions, ProduceResult } from './streams/redis-sink.ts'
export { followModels, redisModelSink } from './streams/redis-models.ts'
export type { FollowedModel } from './streams/redis-models.ts'
export { connectRedis } from './streams/redis-connection.ts'
