import { backprop } from './backprop.js';
import { auxiliaryOutputSdtp } from './auxiliary-output-sdtp.js';
import { deltaRule } from './delta-rule.js';
import { differenceTargetPropagation } from './difference-target-propagation.js';
import { directFeedbackAlignment } from './direct-feedback-alignment.js';
import { directDtp } from './direct-dtp.js';
import { equilibriumPropagation } from './equilibrium-propagation.js';
import { contrastiveHebbian } from './contrastive-hebbian.js';
import { generec } from './generec.js';
import { almeidaPinedaRule } from './almeida-pineda.js';
import { differenceReconstruction } from './difference-reconstruction.js';
import { exactTargetPropagation } from './exact-target-propagation.js';
import { feedbackAlignment } from './feedback-alignment.js';
import { kolenPollack } from './kolen-pollack.js';
import { localDifferenceReconstruction } from './local-difference-reconstruction.js';
import { nodePerturbation } from './node-perturbation.js';
import { signSymmetry } from './sign-symmetry.js';
import { simplifiedDtp } from './simplified-dtp.js';
import { weightMirror } from './weight-mirror.js';
import { weightPerturbation } from './weight-perturbation.js';
import { rbm } from './rbm.js';
import { recirculation } from './recirculation.js';
import { wakeSleep } from './wake-sleep.js';
import { bcm } from './bcm.js';
import { burstprop } from './burstprop.js';
import type { LearningRule, RuleOptions } from './rule.js';
import type { ActivationKind } from '../nn/activations.js';
import type { LossKind } from '../nn/losses.js';
import type { NetworkSpec } from '../nn/network.js';
import { DEFAULT_SETTLE } from '../nn/settling.js';

/** What the CLI, the lab and the docs show about a rule. */
export interface RuleInfo {
  /** One-line name. */
  title: string;
  /** The paper that defines the rule. */
  paper: string;
  /** A short paragraph: what carries the error signal, and why it is (or is not) biologically plausible. */
  summary: string;
  create(options?: RuleOptions): LearningRule;
  /** 'settling': the rule trains a settling network (nn/settling.ts), see specForRule. Absent: feed-forward. */
  model?: 'settling';
  /** The hidden units the rule's model is made of (rbm, wakesleep: logistic), which specForRule gives a feed-forward
   * spec. Absent: any. */
  hidden?: ActivationKind;
  /** true: the rule sends error signals to the hidden layers (down the layers, or directly from the output), which
   * 1-bit-forward runs can quantise to k bits (spec.quantize.backwardBits) and spiking nets carry (model 'spiking'). */
  errorSignals?: true;
  /** The output units and loss the rule's model needs (burstprop: logistic units on squared error), which specForRule
   * gives a feed-forward spec too. Absent: any. */
  output?: ActivationKind;
  loss?: LossKind;
}

/** Every rule by its short id; the id is the same in the CLI, configs and the lab's URL. */
export const RULES = {
  bp: {
    title: 'Backpropagation',
    paper: 'Rumelhart, Hinton & Williams 1986, Learning representations by back-propagating errors, Nature 323',
    summary:
      'Exact gradient of the loss. Errors travel down through the transposes of the forward weights ' +
      '(weight transport), a second kind of signal next to the forward activity: the reference every ' +
      'other rule is compared with.',
    create: (options) => backprop(options) as LearningRule,
    errorSignals: true,
  },
  fa: {
    title: 'Feedback alignment',
    paper: 'Lillicrap, Cownden, Tweed & Akerman 2016, Random synaptic feedback weights support error backpropagation for deep learning, Nat. Commun. 7:13276',
    summary:
      'Errors travel down through fixed random matrices B instead of the transposes of the forward weights, ' +
      'so no weight transport is needed. The forward weights come to align with B, and learning works as ' +
      'long as the delivered error lies within 90° of the true one.',
    create: (options) => feedbackAlignment(options) as LearningRule,
    errorSignals: true,
  },
  dfa: {
    title: 'Direct feedback alignment',
    paper: 'Nøkland 2016, Direct feedback alignment provides learning in deep neural networks, NeurIPS',
    summary:
      'Each hidden layer receives the output error directly through its own fixed random matrix: no ' +
      'layer-by-layer backward pass at all, and no symmetric weights.',
    create: (options) => directFeedbackAlignment(options) as LearningRule,
    errorSignals: true,
  },
  sign: {
    title: 'Sign symmetry',
    paper: 'Liao, Leibo & Poggio 2016, How important is weight symmetry in backpropagation?, AAAI',
    summary:
      'The feedback weights share only the signs of the forward weights, B = sign(W)ᵀ, scaled by mean |W| (default), ' +
      'unit, fixed random or per-batch random magnitudes: a weaker form of weight transport that still learns well.',
    create: (options) => signSymmetry(options) as LearningRule,
    errorSignals: true,
  },
  wm: {
    title: 'Weight mirror',
    paper: 'Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, Deep learning without weight transport, NeurIPS',
    summary:
      'Feedback weights are learned: in a mirror mode, neurons fire noise and B learns from the correlation ' +
      'of each layer’s noisy input with its output, which is proportional to Wᵀ. Engaged mode then learns W ' +
      'through B as in feedback alignment.',
    create: (options) => weightMirror(options) as LearningRule,
    errorSignals: true,
  },
  kp: {
    title: 'Kolen–Pollack',
    paper: 'Kolen & Pollack 1994, Backpropagation without weight transport; Akrout et al. 2019, NeurIPS',
    summary:
      'Forward and feedback weights receive the same (transposed) update, computed from locally available ' +
      'activity and error, and both decay: their difference shrinks every step, so B converges to Wᵀ.',
    create: (options) => kolenPollack(options) as LearningRule,
    errorSignals: true,
  },
  ep: {
    title: 'Equilibrium propagation',
    paper: 'Scellier & Bengio 2017, Equilibrium propagation: bridging the gap between energy-based models and backpropagation, Front. Comput. Neurosci. 11:24',
    summary:
      'A settling network with symmetric connections relaxes to a free fixed point of its energy, then, weakly ' +
      'nudged towards the target, to a nearby one; each synapse changes by the difference of its pre × post ' +
      'activity between the two phases. One kind of neuron and one kind of signal, and the update tends to the ' +
      'exact gradient as the nudge shrinks; it needs symmetric weights and the time to settle.',
    create: (options) => equilibriumPropagation(options) as LearningRule,
    model: 'settling',
  },
  chl: {
    title: 'Contrastive Hebbian learning',
    paper: 'Movellan 1991, Contrastive Hebbian learning in the continuous Hopfield model, Connectionist Models Summer School; Xie & Seung 2003, Equivalence of backpropagation and contrastive Hebbian learning in a layered network, Neural Comput. 15:441–454',
    summary:
      'The same settling network runs twice: free, then with the outputs clamped to the target. Each synapse ' +
      'learns the clamped phase’s pre × post activity and unlearns the free phase’s. With weak feedback and ' +
      'layer-scaled rates it follows backprop’s gradient (Xie & Seung); it needs symmetric weights, and a ' +
      'hard clamp can pull the network into a different attractor.',
    create: (options) => contrastiveHebbian(options) as LearningRule,
    model: 'settling',
  },
  generec: {
    title: 'GeneRec',
    paper: 'O’Reilly 1996, Biologically plausible error-driven learning using local activation differences: the generalized recirculation algorithm, Neural Comput. 8:895–938',
    summary:
      'The phases of contrastive Hebbian learning, but the error is the receiving unit’s change of activity ' +
      'between them times a sending activity (the minus phase’s, or the two phases’ midpoint); the symmetric ' +
      'midpoint form is exactly CHL. An NGRAD: the error is a difference of one neuron’s activity in time.',
    create: (options) => generec(options) as LearningRule,
    model: 'settling',
  },
  ap: {
    title: 'Almeida–Pineda recurrent backpropagation',
    paper: 'Almeida 1987, A learning rule for asynchronous perceptrons with feedback in a combinatorial environment, IEEE ICNN; Pineda 1987, Generalization of back-propagation to recurrent neural networks, Phys. Rev. Lett. 59:2229',
    summary:
      'The exact gradient of the cost at the settling network’s free fixed point: an adjoint state relaxes ' +
      'through the transposed weights and its outer product with the activities is the update. The reference ' +
      'that equilibrium propagation, CHL and GeneRec approach; it needs a second kind of signal in every unit.',
    create: (options) => almeidaPinedaRule(options) as LearningRule,
    model: 'settling',
  },
  delta: {
    title: 'Delta rule (Widrow–Hoff, LMS)',
    paper: 'Widrow & Hoff 1960, Adaptive switching circuits, IRE WESCON Convention Record 4:96–104',
    summary:
      'Each output unit changes its weights in proportion to its own error times its input, ' +
      'Δw = −ε (y − t) x: local and exact for a layer of linear units, but it cannot train hidden units, ' +
      'which stay fixed random features. Batch mode averages over the batch; online mode takes the cases ' +
      'one at a time (option caseLr).',
    create: (options) => deltaRule(options) as LearningRule,
  },
  wp: {
    title: 'Weight perturbation',
    paper: 'parallel: Cauwenberghs 1993, A fast stochastic error-descent algorithm for supervised learning and optimization, NeurIPS 5; Alspector et al. 1993, A parallel gradient descent method for learning in analog VLSI neural networks, NeurIPS 5; Werfel, Xie & Seung 2005, Neural Comput. 17. serial (accept/reject): Hinton, lecture "Can the brain do backpropagation?", "Learning by perturbing weights (evolution)"',
    summary:
      'No error signal at all: the weights are jiggled and the change in the loss is correlated with the ' +
      'jiggle, (ΔL/σ²)·ξ, an unbiased but very noisy estimate of the gradient that needs only a global ' +
      'scalar reward and forward passes. Its noise grows with the number of weights. Serial mode changes ' +
      'one weight and keeps the change only if the loss falls (evolution).',
    create: (options) => weightPerturbation(options) as LearningRule,
  },
  np: {
    title: 'Node perturbation',
    paper: 'Williams 1992, Simple statistical gradient-following algorithms for connectionist reinforcement learning, Mach. Learn. 8:229–256; Werfel, Xie & Seung 2005, Neural Comput. 17',
    summary:
      'Noise is injected into the units rather than the weights; the change in each example’s loss, ' +
      'correlated with a unit’s own noise, estimates that unit’s error, and each synapse then learns from ' +
      'it and its presynaptic activity. One global scalar reward suffices, and the noise has as many ' +
      'dimensions as there are units, not weights.',
    create: (options) => nodePerturbation(options) as LearningRule,
  },
  tp: {
    title: 'Target propagation with exact inverses',
    paper: 'Bengio 2014, How auto-encoders could provide credit assignment in deep networks via target propagation, arXiv:1407.7906; Lillicrap, Santoro, Marris, Akerman & Hinton 2020, Backpropagation and the brain, Nat. Rev. Neurosci. (Fig. 3)',
    summary:
      'The idealised target propagation: each layer’s target is the exact inverse of the layer above applied ' +
      'to that layer’s target, starting from a small gradient step at the top. Its targets approach a ' +
      'Gauss–Newton step rather than backprop’s gradient. Needs square, invertible layers, and reads W to invert it.',
    create: (options) => exactTargetPropagation(options) as LearningRule,
  },
  dtp: {
    title: 'Difference target propagation',
    paper: 'Lee, Zhang, Fischer & Bengio 2015, Difference target propagation, ECML-PKDD; Bartunov et al. 2018, Assessing the scalability of biologically-motivated deep learning algorithms and architectures, NeurIPS',
    summary:
      'Top-down signals carry targets instead of errors: learned inverses (autoencoders) g_l send each ' +
      'layer a target, corrected by the difference h_l − g(h_{l+1}) so that imperfect inverses still give ' +
      'no change when there is no error, and each layer learns from the local difference between its ' +
      'activity and its target. The first target is a gradient step on the penultimate layer (Lee et al.). ' +
      'Inverses train on noisy reconstructions, in parallel with the forward weights or in alternating passes.',
    create: (options) => differenceTargetPropagation(options) as LearningRule,
  },
  sdtp: {
    title: 'Simplified difference target propagation',
    paper: 'Bartunov, Santoro, Richards, Marris, Hinton & Lillicrap 2018, Assessing the scalability of biologically-motivated deep learning algorithms and architectures, NeurIPS (§2.1.2, Algorithm 1)',
    summary:
      'DTP without any gradient: the output’s target is the label itself, and an inverse of the output ' +
      'layer carries it down to the penultimate layer, and learned inverses below; every layer learns from ' +
      'the difference between its activity and its target. Nothing reads the forward weights but forward passes.',
    create: (options) => simplifiedDtp(options) as LearningRule,
  },
  aosdtp: {
    title: 'Simplified DTP with auxiliary outputs',
    paper: 'Bartunov et al. 2018, NeurIPS (§2.1.2, eq. 3, Algorithm 2)',
    summary:
      'Simplified DTP whose output layer also carries fixed random features of the penultimate layer, kept ' +
      'in the target: a label of 10 classes then still gives the layer below a rich, full-rank target.',
    create: (options) => auxiliaryOutputSdtp(options) as LearningRule,
  },
  drl: {
    title: 'DTP with the difference reconstruction loss (DRL)',
    paper: 'Meulemans, Carzaniga, Suykens, Sacramento & Grewe 2020, A theoretical framework for target propagation, NeurIPS',
    summary:
      'Difference target propagation whose inverses learn to undo a noisy perturbation after it has travelled ' +
      'up to the output and back down through the whole stack: the targets then follow a Gauss–Newton ' +
      'direction even in non-invertible networks. Every layer, the output’s included, learns from its target.',
    create: (options) => differenceReconstruction(options) as LearningRule,
  },
  ddtp: {
    title: 'Direct difference target propagation, linear feedback (DDTP-linear)',
    paper: 'Meulemans, Carzaniga, Suykens, Sacramento & Grewe 2020, A theoretical framework for target propagation, NeurIPS',
    summary:
      'Each hidden layer receives its target straight from the output change through its own learned linear ' +
      'map, as direct feedback alignment sends errors, but the map learns (by the difference reconstruction ' +
      'loss) to invert the layer-to-output Jacobian: Gauss–Newton-like targets without weight transport.',
    create: (options) => directDtp(options) as LearningRule,
  },
  ldrl: {
    title: 'Local difference reconstruction loss (L-DRL)',
    paper: 'Ernoult, Normandin, Moudgil, Spinney, Belilovsky, Rish, Richards & Bengio 2022, Towards scaling difference target propagation by learning backprop targets, ICML',
    summary:
      'Difference target propagation whose inverses learn a loss local to their own layer, built from two ' +
      'noise injections, that makes each inverse’s Jacobian the transpose of its layer’s: the targets then ' +
      'approximate backprop’s gradient without weight transport. Several feedback updates per batch, then one forward.',
    create: (options) => localDifferenceReconstruction(options) as LearningRule,
  },
  rbm: {
    title: 'Restricted Boltzmann machine, contrastive divergence',
    paper: 'Hinton 2002, Training products of experts by minimizing contrastive divergence, Neural Comput. 14:1771–1800; Hinton & Salakhutdinov 2006, Reducing the dimensionality of data with neural networks, Science 313:504 (code rbm.m)',
    summary:
      'Unsupervised: one layer learns a generative model of its input. The data drive the hidden units, these ' +
      'reconstruct the input through the same symmetric connections, and each synapse learns the data’s ' +
      'pre × post correlation and unlearns the reconstruction’s (CD-k; persistent chains as options). Stacked ' +
      'greedily (--pretrain rbm) it makes a deep belief net whose features any rule can fine-tune.',
    create: (options) => rbm(options) as LearningRule,
    hidden: 'sigmoid',
  },
  recirc: {
    title: 'Temporal-derivative backprop through a stack of autoencoders',
    paper: 'Hinton 2007, How to do backpropagation in a brain, NIPS Deep Learning Workshop; Lillicrap, Santoro, Marris, Akerman & Hinton 2020, Backpropagation and the brain, Nat. Rev. Neurosci. (Supplementary Fig. 1)',
    summary:
      'After the forward pass the output units move by the error; the change flows down through the top-down ' +
      '(reconstruction) connections, and every unit’s change of activity is its error derivative when each layer ' +
      'is a good autoencoder. Each synapse learns pre-synaptic activity × the change of post-synaptic activity: ' +
      'one kind of neuron, the error carried as a temporal derivative. Top-down weights tied to the forward ones, ' +
      'learned as autoencoders, or with many directed connections removed.',
    create: (options) => recirculation(options) as LearningRule,
  },
  wakesleep: {
    title: 'Wake–sleep (Helmholtz machine)',
    paper: 'Hinton, Dayan, Frey & Neal 1995, The "wake-sleep" algorithm for unsupervised neural networks, Science 268:1158–1161',
    summary:
      'Unsupervised. The forward layers of stochastic logistic units are a recognition model, and the rule owns a ' +
      'top-down generative model. Awake, the data drive the units bottom-up and each generative synapse learns, by the ' +
      'delta rule, to predict the layer below from the layer above; asleep, the generative model dreams top-down and ' +
      'each recognition synapse learns to predict the dream’s layer above from its layer below. Every update is local ' +
      '(pre-synaptic activity times the unit’s own prediction error) and no weights are transported; the sleep phase ' +
      'fits the wrong divergence, so the variational bound falls only approximately. The readout layer is left to a later stage.',
    create: (options) => wakeSleep(options) as LearningRule,
    hidden: 'sigmoid',
  },
  bcm: {
    title: 'BCM rule (sliding modification threshold)',
    paper: 'Bienenstock, Cooper & Munro 1982, Theory for the development of neuron selectivity: orientation specificity and binocular interaction in visual cortex, J. Neurosci. 2:32–48; Intrator & Cooper 1992, Objective function formulation of the BCM theory of visual cortical plasticity, Neural Networks 5:3–17',
    summary:
      'Unsupervised: one layer learns from its own activity. Each synapse changes by its input × the unit’s output × ' +
      '(output − θ), where θ, a running average of the unit’s squared output, slides up when the unit fires much: ' +
      'strong responses potentiate, weak ones depress, activity stays bounded without weight normalisation, and ' +
      'each unit becomes selective, responding strongly to few input patterns and weakly to the rest. Purely local; ' +
      'the readout is left to a later stage.',
    create: (options) => bcm(options) as LearningRule,
    hidden: 'relu',
  },
  burstprop: {
    title: 'Burstprop (burst-dependent plasticity), rate form',
    paper: 'Payeur, Guerguiev, Zenke, Richards & Naud 2021, Burst-dependent synaptic plasticity can coordinate learning in hierarchical circuits, Nat. Neurosci. 24:1010–1019 (code: jordan-g/Burstprop)',
    summary:
      'One kind of logistic unit carries two signals at once: its event rate e is the forward activity, and the ' +
      'probability p that an event is a burst, set by top-down (apical) input, carries the error. The output bursts ' +
      'more when it should be higher; burst rates p·e travel down through feedback weights Y (fixed random by ' +
      'default), and every synapse changes by the change of its post-synaptic burst rate between a baseline and a ' +
      'teaching pass times the pre-synaptic event rate. Recurrent inhibition keeps p near ½, where the updates follow ' +
      'the gradient; with Y = Wᵀ and a small teaching signal they approach backprop’s.',
    create: (options) => burstprop(options) as LearningRule,
    hidden: 'sigmoid',
    output: 'sigmoid',
    loss: 'mse',
  },
} satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;
export const RULE_IDS = Object.keys(RULES) as RuleId[];

export function isRuleId(id: string): id is RuleId {
  return Object.prototype.hasOwnProperty.call(RULES, id);
}

export function createRule(id: string, options: RuleOptions = {}): LearningRule {
  if (!isRuleId(id)) throw new Error(`unknown rule '${id}' (choose ${RULE_IDS.join(', ')}; 'ngrad rules' lists them)`);
  return RULES[id].create(options);
}

/** Refuses a network whose signals the rule cannot use, with a one-line error that names the fix: k-bit errors and
 * spiking networks need a rule that sends error signals to its hidden layers; 1-bit activities a feed-forward net. */
export function checkRuleFitsSpec(id: RuleId, spec: NetworkSpec): void {
  const info: RuleInfo = RULES[id];
  const senders = RULE_IDS.filter((r) => (RULES[r] as RuleInfo).errorSignals).join(', ');
  if ((spec.quantize?.backwardBits ?? 0) > 0 && !info.errorSignals) {
    throw new Error(`rule '${id}' sends no error signals to its hidden layers, so there is nothing for --backward-bits to quantise: use one of ${senders}`);
  }
  if (spec.quantize?.forwardBits === 1 && (spec.model === 'settling' || info.model === 'settling')) {
    throw new Error(`1-bit forward activities are for feed-forward nets; rule '${id}' trains a settling network: leave out --forward-bits`);
  }
  if (spec.model === 'spiking' && !info.errorSignals) {
    throw new Error(`a spiking network is trained through its rates by a rule that sends error signals (${senders}), not by '${id}'`);
  }
}

/** The network a rule trains, from a feed-forward spec: a settling rule's is the same widths read as a
 * settling network of hard-sigmoid units with squared error (Scellier & Bengio 2017's), relaxing as the
 * spec's `settle` says (DEFAULT_SETTLE when absent); a rule made of particular units (RuleInfo.hidden, output, loss)
 * gets the spec with those; every other rule's is the spec itself. For the lab and
 * the tests, which race every rule on one architecture; the CLI asks for --model settling explicitly. */
export function specForRule(id: string, spec: NetworkSpec): NetworkSpec {
  const info: RuleInfo | undefined = (RULES as Record<string, RuleInfo>)[id];
  if ((info?.hidden || info?.output || info?.loss) && spec.model !== 'settling') {
    const hidden = info.hidden ?? spec.hidden, output = info.output ?? spec.output, loss = info.loss ?? spec.loss;
    return spec.hidden === hidden && spec.output === output && spec.loss === loss ? spec : { ...spec, hidden, output, loss };
  }
  if (info?.model !== 'settling' || spec.model === 'settling') return spec;
  return { ...spec, model: 'settling', hidden: 'hard_sigmoid', output: 'hard_sigmoid', loss: 'mse', settle: spec.settle ?? DEFAULT_SETTLE };
}
