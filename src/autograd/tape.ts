// The autograd tape. Every differentiable op (src/ops) computes its forward, then — when gradients are being
// recorded and one of its inputs requires grad — records a Node: the inputs, the tensors it saved for backward
// (owned by the node, released as soon as its backward has run) and a backward closure written beside the forward.
// backward(loss) walks the recorded graph in reverse topological order, frees each intermediate gradient as soon as
// it has been consumed, and accumulates into the `.grad` of leaf tensors (parameters) across calls.
import { VesselError } from '../gpu/errors.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { accumulateInto, addTensors, copyTensor } from '../../kernels/accumulate.js';

/** Gradients for a node's outputs (null where no gradient flowed) → gradients for its inputs (null where not needed). */
export type BackwardFn = (grads: (Tensor | null)[], needs: readonly boolean[]) => (Tensor | null)[];

let nextNodeId = 1;

export class Node {
  readonly id = nextNodeId++;
  /** Which inputs need a gradient (they require grad themselves). */
  readonly needs: boolean[];
  /** Shapes of the outputs, for checking incoming gradients. */
  readonly outShapes: (readonly number[])[];
  released = false;
  constructor(
    readonly op: string,
    readonly inputs: readonly (Tensor | null)[],
    outputs: readonly Tensor[],
    public saved: Tensor[],
    public fn: BackwardFn | null,
  ) {
    this.needs = inputs.map((t) => !!t && t.requiresGrad);
    this.outShapes = outputs.map((t) => t.shape);
  }

  /** Dispose what the node saved and drop its closure. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.fn = null;
    finalizer?.unregister(this);
  }
}

/** Where a non-leaf tensor came from: output `index` of `node`. Stored in Tensor.node. */
export interface Edge {
  node: Node;
  index: number;
}

export function edgeOf(t: Tensor): Edge | null {
  return (t.node as Edge | null) ?? null;
}

// A graph that is built and never backpropagated (a forward run with gradients on, then dropped) releases its saved
// tensors when its nodes become unreachable.
const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Tensor[]>((saved) => {
        for (const t of saved) t.dispose();
      })
    : null;

// ---------------------------------------------------------------------------------------------------------------
// Gradient mode

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGradMode<T>(enabled: boolean, fn: () => T, what: string): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    const r = fn();
    if (r instanceof Promise) throw new VesselError(`${what}(): the function must be synchronous (record async work outside it)`);
    return r;
  } finally {
    gradEnabled = prev;
  }
}

/** Run `fn` without recording gradients (inference, optimizer updates, metric computation). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn, 'noGrad');
}

/**
 * Async form of noGrad for inference loops that await (readbacks, file I/O). Recording stays off until the promise
 * settles, for all code that runs meanwhile: do not interleave it with training work.
 */
export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return await fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Run `fn` with gradient recording on (inside a noGrad scope, e.g. for checkpoint recomputation). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn, 'enableGrad');
}

// ---------------------------------------------------------------------------------------------------------------
// Recording (used by ops)

/** True when an op with these inputs must record a backward node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Keep a tensor for backward: a view that shares storage (no copy), owned by the node that records it, so disposing
 * the original or leaving its scope does not free the data backward needs.
 */
export function save(t: Tensor): Tensor {
  const v = t.reshape(t.shape);
  return t.engine.keep(v);
}

/** Take ownership of a tensor created by the op only for backward (statistics, masks): out of scope management. */
export function own(t: Tensor): Tensor {
  return t.engine.keep(t);
}

/**
 * Record a node. `saved` tensors become the node's (released after its backward); if no input requires grad or
 * gradients are off, they are disposed at once and nothing is recorded.
 */
export function record(
  op: string,
  inputs: readonly (Tensor | null)[],
  outputs: readonly Tensor[],
  saved: Tensor[],
  fn: BackwardFn,
  force = false,
): Node | null {
  if (force ? !gradEnabled : !needsGrad(...inputs)) {
    for (const t of saved) t.dispose();
    return null;
  }
  const node = new Node(op, inputs, outputs, saved, fn);
  outputs.forEach((t, index) => {
    t.requiresGrad = true;
    t.node = { node, index } satisfies Edge;
  });
  finalizer?.register(node, saved, node);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Backward

export interface BackwardOptions {
  /** Keep saved tensors so backward can run through the same graph again. */
  retainGraph?: boolean;
}

/**
 * Backpropagate from `root`. Without `grad`, `root` must have exactly one element (a loss); its gradient is 1.
 * Gradients accumulate into the `.grad` of leaf tensors that require grad.
 */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  root.assertAlive();
  if (!grad && root.size !== 1) {
    throw new VesselError(
      `backward(): the tensor has shape ${fmtShape(root.shape)} (${root.size} elements); only a one-element loss can start backward without an explicit gradient`,
    );
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new VesselError(`backward(): gradient shape ${fmtShape(grad.shape)} does not match the tensor's shape ${fmtShape(root.shape)}`);
  }
  if (grad && grad.dtype !== root.dtype) {
    throw new VesselError(`backward(): gradient dtype ${grad.dtype} does not match the tensor's dtype ${root.dtype}`);
  }
  if (!root.requiresGrad) {
    throw new VesselError(
      `backward(): the tensor ${fmtShape(root.shape)} does not require grad (no parameter reached it, or it was computed under noGrad)`,
    );
  }
  const g = grad ? grad.reshape(grad.shape) : root.engine.full(root.shape, 1, root.dtype);
  runBackward([root], [g], opts);
}

/** Backward from several roots at once (used by checkpoint). Takes ownership of `grads`. */
export function runBackward(roots: readonly Tensor[], grads: readonly (Tensor | null)[], opts: BackwardOptions = {}): void {
  const pending = new Map<Node, (Tensor | null)[]>();
  const deliver = (t: Tensor, g: Tensor): void => {
    if (!sameShape(g.shape, t.shape)) {
      const e = edgeOf(t);
      g.dispose();
      throw new VesselError(`Internal: gradient ${fmtShape(g.shape)} for a tensor ${fmtShape(t.shape)} (from ${e?.node.op ?? 'a leaf'})`);
    }
    const e = edgeOf(t);
    if (!e) {
      accumulateLeaf(t, g);
      return;
    }
    let slot = pending.get(e.node);
    if (!slot) pending.set(e.node, (slot = e.node.outShapes.map(() => null)));
    slot[e.index] = accumulate(slot[e.index], g);
  };

  const rootNodes: Node[] = [];
  roots.forEach((r, i) => {
    const g = grads[i];
    if (!g) return;
    if (!r.requiresGrad) {
      g.dispose();
      return;
    }
    deliver(r, g);
    const e = edgeOf(r);
    if (e) rootNodes.push(e.node);
  });

  const order = topoOrder(rootNodes);
  try {
    for (const node of order) {
      const gys = pending.get(node);
      pending.delete(node);
      if (!gys || gys.every((x) => x === null)) {
        if (!opts.retainGraph) node.release();
        continue;
      }
      if (node.released || !node.fn) {
        for (const x of gys) x?.dispose();
        throw new VesselError(
          `backward(): the graph through "${node.op}" was already freed by an earlier backward(); pass { retainGraph: true } to the first call to go through it twice`,
        );
      }
      let gx: (Tensor | null)[];
      try {
        gx = node.fn(gys, node.needs);
      } finally {
        for (const x of gys) x?.dispose();
        if (!opts.retainGraph) node.release();
      }
      node.inputs.forEach((inp, i) => {
        const g = gx[i];
        if (!g) return;
        if (inp && node.needs[i]) deliver(inp, g);
        else g.dispose();
      });
    }
  } finally {
    for (const slot of pending.values()) for (const x of slot) x?.dispose();
  }
}

/** Nodes reachable from `roots`, each after every node that consumes its outputs. */
function topoOrder(roots: Node[]): Node[] {
  const post: Node[] = [];
  const seen = new Set<Node>();
  const stack: Array<[Node, number]> = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.inputs.length) {
        top[1]++;
        const inp = node.inputs[i];
        const e = inp && node.needs[i] ? edgeOf(inp) : null;
        if (e && !seen.has(e.node)) {
          seen.add(e.node);
          stack.push([e.node, 0]);
        }
      } else {
        stack.pop();
        post.push(node);
      }
    }
  }
  return post.reverse();
}

/** acc + g, reusing acc's storage when nothing else shares it. Consumes g (and acc when a new tensor is made). */
function accumulate(acc: Tensor | null, g: Tensor): Tensor {
  if (!acc) return g;
  if (acc.storage.refs === 1) {
    accumulateInto(acc, g);
    g.dispose();
    return acc;
  }
  const s = addTensors(acc, g);
  acc.dispose();
  g.dispose();
  return s;
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  const engine = leaf.engine;
  if (g.dtype !== leaf.dtype) {
    g.dispose();
    throw new VesselError(`Internal: ${g.dtype} gradient for a ${leaf.dtype} leaf ${fmtShape(leaf.shape)}`);
  }
  if (!leaf.grad || leaf.grad.disposed) {
    // The gradient must own its storage: optimizers and clipping update it in place.
    if (g.storage.refs === 1) leaf.grad = engine.keep(g);
    else {
      leaf.grad = engine.keep(copyTensor(g));
      g.dispose();
    }
    return;
  }
  if (leaf.grad.storage.refs === 1) {
    accumulateInto(leaf.grad, g);
    g.dispose();
  } else {
    const s = engine.keep(addTensors(leaf.grad, g));
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = s;
  }
}

/** Set the gradients of `tensors` to null (disposing them), as PyTorch's zero_grad(set_to_none=True). */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) {
    t.grad?.dispose();
    t.grad = null;
  }
}

/** A leaf view of `t` (same storage) that is cut from the graph. */
export function detach(t: Tensor): Tensor {
  const v = t.reshape(t.shape);
  v.requiresGrad = false;
  v.node = null;
  return v;
}
