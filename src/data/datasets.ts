// Training data sources for Node callers: the browser-safe core (src/data/sources.ts: sample descriptions, pairing,
// PairSource) together with the file and folder readers (src/train/data-files.ts), which also enables
// PairSource.fromFiles. Browser code imports src/data/sources.ts.
export * from './sources.js';
export { fileSource, listVolumeFiles, loadPair, sampleFolders } from '../train/data-files.js';
