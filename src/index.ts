// The ngrad library: runs in Node and in browsers. Node-only parts (files, data on disk, the native
// backend) are in 'ngrad/node'.
export type { Matrix } from './tensor/matrix.js';
export { matrix, fromRows, transpose, gatherRows, cloneMatrix } from './tensor/matrix.js';
export type { Backend, BackendName, ActivationKind } from './tensor/backend.js';
export { ACTIVATION_KINDS } from './tensor/backend.js';
export { createJsBackend } from './tensor/js-backend.js';
export { createWasmBackend, instantiateWasmBackend } from './tensor/wasm-backend.js';
export { Rng, type RngState } from './random.js';

export { parseActivation } from './nn/activations.js';
export { lossAndGrad, softmax, argmaxRows, LOSS_KINDS, type LossKind } from './nn/losses.js';
export { parseInit, type InitSpec } from './nn/init.js';
export type { DenseParams } from './nn/dense.js';
export {
  createNetwork, createWorkspace, forward, backward, parseArch, paramList, zerosLike,
  type Network, type NetworkSpec, type Workspace, type Param,
} from './nn/network.js';

export type { LearningRule, RuleContext, StepResult, Batch, RuleOptions, Locality, TrainableGroup, InitInfo } from './rules/rule.js';
export { RULES, RULE_IDS, createRule, isRuleId, specForRule, checkRuleFitsSpec, type RuleId, type RuleInfo } from './rules/registry.js';
export { backprop } from './rules/backprop.js';
export { EP_DEFAULTS } from './rules/equilibrium-propagation.js';

export { chain, type Transform, type StepInfo } from './optim/transform.js';
export { adam, momentum, weightDecay } from './optim/transforms.js';
export { makeOptimizer, DEFAULT_OPTIMIZER, OPTIMIZER_NAMES, type OptimizerConfig, type OptimizerName } from './optim/optimizer.js';

export { evaluate, type Evaluation } from './metrics/classification.js';
export { exactLogLikelihood, freeEnergy, logPartition, type RbmParams, type VisibleKind } from './metrics/rbm-likelihood.js';
export { exampleTargets, type ExampleTargets } from './metrics/targets.js';
export { spikeRaster, type SpikeRaster, type SpikeRasterLayer, type SpikeRasterOptions } from './metrics/spike-raster.js';
export {
  settlingTrace, tracePhase, tracedUnits, type PhaseTrace, type SettlingTrace, type SettlingTraceOptions, type TracedUnit,
} from './metrics/settling-trace.js';
export type { Picture, PictureContext } from './rules/rule.js';
export { pictureRaster, greyLevels, PADDING_GREY, NAN_GREY, type GreyRaster, type RasterOptions } from './metrics/image-grid.js';
export { encodePicturePng } from './metrics/picture-png.js';

export type { Dataset, DataSplits } from './data/dataset.js';
export { DataError, isDataError } from './data/errors.js';
export { parseIdx, encodeIdx, idxImagesToMatrix, idxLabels } from './data/idx.js';
export { oneHot, classificationSet } from './data/one-hot.js';
export { validationSplit, subset, checkSplits } from './data/split.js';
export { xor, twoSpirals, linearTeacher, cafeteria } from './data/synthetic.js';
export { syntheticTask, isSyntheticTask, SYNTHETIC_TASKS, type SyntheticTask } from './data/tasks.js';

export { Trainer, DEFAULT_TRAIN, initialState, runStreams, singleStageTrainer, checkDataFits, type TrainConfig, type TrainState, type RunStreams } from './train/trainer.js';
export { createTrainer, seededTrainer, runStages, totalEpochs, type RunConfig, type StageConfig } from './train/run.js';
export { singleStage, type Stage, type GroupSettings } from './train/stage.js';
export {
  almeidaPineda, computeInputDrive, DEFAULT_SETTLE, energies, energyParamGradients, relax, settlingNet, settlingScratch, settlingState,
  type RelaxOptions, type SettleSpec, type SettlingNet, type SettlingState,
} from './nn/settling.js';
export { feedForwardModel, settlingModel, modelFor, MODELS, type Model, type ModelKind, type Predictor } from './nn/model.js';
export { networkLayers, checkNetworkSize, architectureSpec, spikingSpec } from './nn/network.js';
export { DEFAULT_SPIKING, type SpikingSpec, type SpikingNeuron, type SpikingInput } from './nn/spiking.js';
export { FULL_PRECISION, type QuantizeSpec } from './nn/stochastic.js';
export { parseArchitecture, ARCH_GRAMMAR, type LayerSpec, type Architecture } from './nn/layer-spec.js';
export { denseLayer } from './nn/dense.js';
export type { Layer, LayerParams } from './nn/layer.js';
export { learningRate, parseSchedule, type ScheduleConfig } from './train/schedule.js';
export { TrainingDivergedError, type TrainEvent, type EventSink } from './train/events.js';
export { encodeCheckpoint, decodeCheckpoint, crc32c } from './checkpoint.js';
export { datasetFingerprint } from './data/fingerprint.js';
export { parseCifarBatch, parseCifarBatches, cifarDataset, encodeCifarBatch, CIFAR10_SHAPE, CIFAR10_CLASS_NAMES } from './data/cifar.js';
export { sampleBernoulli } from './tensor/sampling.js';

export {
  bernoulliSpikeTrain, poissonSpikeTrain, poissonCount, binRates, binCounts, binTime, spikeTimes, gridSteps, checkSpikeTrain,
  constantRate, rampRate, sineRate, type RateFunction, type RateProfile, type SpikeTrain, type TimeGrid,
} from './spikes/spike-trains.js';
export {
  stdpChange, derivativeEstimate, derivativeFilter, expectedChange, predictedSd, sineResponse,
  type DerivativeEstimate, type PairInteraction, type StdpOptions,
} from './spikes/stdp.js';
export {
  balancedWindow, continuousMoments, songWindow, windowMoments, windowSupport, windowValue, checkWindow,
  type BoxWindow, type ExponentialWindow, type StdpWindow, type WindowMoments,
} from './spikes/windows.js';
