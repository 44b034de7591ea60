import {
  classificationSet, idxImagesToMatrix, idxLabels, parseIdx, runStreams, syntheticTask,
  type DataSplits, type Dataset,
} from '../../../src/index.js';
import type { TaskId } from '../state.js';

/** Fetches the bytes of one IDX file served by `ngrad lab` (the worker passes fetch; tests pass files). */
export type FetchBytes = (path: string) => Promise<Uint8Array>;

/** The address of an image task's IDX file under the lab server (node/lab-server.ts serves these, as
 * subsets: DATA_SUBSET there). */
export function idxPath(task: 'mnist' | 'fashion-mnist', split: 'train' | 'test', part: 'images' | 'labels'): string {
  return `data/${task}/${split}-${part}.idx`;
}

/** The task's data, seeded by the run's data stream exactly as the CLI does (runStreams(seed).data). */
export async function loadTask(task: TaskId, seed: number, fetchBytes: FetchBytes): Promise<DataSplits> {
  const rng = runStreams(seed).data;
  switch (task) {
    case 'xor':
    case 'spirals':
    case 'linear':
    case 'cafeteria':
      return syntheticTask(task, rng);
    case 'mnist':
    case 'fashion-mnist': {
      const [train, test] = await Promise.all([imageSet(task, 'train', fetchBytes), imageSet(task, 'test', fetchBytes)]);
      return { train, test };
    }
  }
}

async function imageSet(task: 'mnist' | 'fashion-mnist', split: 'train' | 'test', fetchBytes: FetchBytes): Promise<Dataset> {
  const imagesPath = idxPath(task, split, 'images'), labelsPath = idxPath(task, split, 'labels');
  const [images, labels] = await Promise.all([fetchBytes(imagesPath), fetchBytes(labelsPath)]);
  const idx = parseIdx(images, imagesPath);
  const x = idxImagesToMatrix(idx, imagesPath);
  // The images' shape lets rules draw pictures of them (Trainer.pictures' imageShape).
  return classificationSet(`${task}/${split}`, x, idxLabels(parseIdx(labels, labelsPath), labelsPath, 10), 10, [1, idx.dims[1], idx.dims[2]]);
}
