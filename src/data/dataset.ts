import type { Matrix } from '../tensor/matrix.js';

/** A supervised data set held in memory. Rows of x and y are examples. */
export interface Dataset {
  /** Short name, e.g. 'mnist/train' or 'xor'. */
  name: string;
  /** Inputs, [n, features], float32 (images scaled to [0, 1]). */
  x: Matrix;
  /** Targets, [n, outputs]: one-hot rows for classification, real values for regression. */
  y: Matrix;
  /** Class index of each example, for classification sets; absent for regression. */
  labels?: Int32Array;
  /**
   * For images: the shape of one example, [channels, height, width], whose product is x.cols; each row
   * of x holds the image in this (channel-first, row-major) order. Absent for data that are not images.
   */
  shape?: readonly number[];
  /** For classification sets whose classes have names (CIFAR-10's): the name of each class, in label order. */
  classNames?: readonly string[];
}

/** The parts of a task: training data, test data, and an optional validation split. */
export interface DataSplits {
  train: Dataset;
  test: Dataset;
  validation?: Dataset;
}
