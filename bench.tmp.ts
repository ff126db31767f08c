import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./lib/engine/backend.js";
import { LlamaModel } from "./lib/model/llama.js";
import { generate } from "./lib/model/generate.js";
console.log(await initBackend());
const cfg = { hiddenSize: 64, intermediateSize: 256, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 16,
  vocabSize: 512, maxPositions: 256, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true, bosTokenId: 1, eosTokenId: 2 };
const m = LlamaModel.random(cfg, 1);
const B = 8, T = 128;
const ids = tf.randomUniform([B, T + 1], 0, 512, "int32");
const x = tf.slice(ids, [0, 0], [B, T]) as tf.Tensor2D;
const y = tf.reshape(tf.slice(ids, [0, 1], [B, T]), [-1]);
const opt = tf.train.adam(1e-3);
const vars = [...m.trainableVariables({ method: "full" }).values()];
const step = () => {
  const { value, grads } = tf.variableGrads(() => {
    const logits = tf.reshape(m.forward(x, { training: true }), [-1, 512]);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 512), logits) as tf.Scalar;
  }, vars);
  opt.applyGradients(grads);
  const l = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return l;
};
const fwd = () => tf.tidy(() => m.forward(x).dataSync()[0]);
step(); fwd();
let t0 = performance.now(); for (let i = 0; i < 3; i++) fwd(); console.log("forward ms", (performance.now() - t0) / 3);
t0 = performance.now(); let l = 0; for (let i = 0; i < 3; i++) l = step(); console.log("train step ms", (performance.now() - t0) / 3, "loss", l, "tensors", tf.memory().numTensors);
if (process.argv[2] === "prof") {
  const p = await tf.profile(() => { step(); });
  const agg = new Map<string, number>();
  for (const k of p.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log([...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15));
}
const s = await LlamaModel.load("/work/shared/data/models/stories260K-hf");
generate(s, [[1]], { maxNewTokens: 10, eosTokenId: null });
t0 = performance.now(); generate(s, [[1]], { maxNewTokens: 200, eosTokenId: null }); console.log("stories tok/s batch1", 200 / ((performance.now() - t0) / 1000));
t0 = performance.now(); generate(s, Array.from({length: 8}, () => [1]), { maxNewTokens: 200, eosTokenId: null }); console.log("stories tok/s batch8", 1600 / ((performance.now() - t0) / 1000));
