// A shard worker that knows the user's layer types: their module bundled with the library's
// web-worker entry (one registry), as a browser app bundles its own shard worker.
import '../../fixtures/user-layer.ts'
import '../../../src/parallel/web-worker.ts'
