// Node-only parts of ngrad: the native backend, data sets on disk, atomic files.
export { createBackend, BACKEND_NAMES } from './backends.js';
export { loadWasmBackend, findWasm, WasmUnavailableError } from './wasm-loader.js';
export { loadDataset, loadCifarFolder, DATASET_NAMES, FASHION_MNIST_DIR, type LoadDatasetOptions } from './datasets.js';
export { writeFileAtomic, saveCheckpoint, loadCheckpoint, removeStaleTemporaries, ensureFolder, readRegularFile, describeFsError } from './files.js';
