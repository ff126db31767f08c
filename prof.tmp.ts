import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./lib/engine/backend.js";
import { LlamaModel } from "./lib/model/llama.js";
await initBackend();
const cfg = { hiddenSize: 64, intermediateSize: 256, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 16,
  vocabSize: 512, maxPositions: 256, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true, bosTokenId: 1, eosTokenId: 2 };
const m = LlamaModel.random(cfg, 1);
const B = 8, T = 128;
const x = tf.randomUniform([B, T], 0, 512, "int32") as tf.Tensor2D;
const y = tf.reshape(x, [-1]);
const vars = [...m.trainableVariables({ method: "full" }).values()];
const step = () => { const { value, grads } = tf.variableGrads(() => {
    const logits = tf.reshape(m.forward(x, { training: true }), [-1, 512]);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 512), logits) as tf.Scalar; }, vars);
  tf.dispose([value, ...Object.values(grads)]); };
step();
const p = await tf.profile(() => { step(); });
const agg = new Map<string, [number, number]>();
for (const k of p.kernels) if (k.name === "BatchMatMul" || k.name === "Transpose") {
  const key = k.name + " " + k.inputShapes.map((s) => JSON.stringify(s)).join("x") + " " + JSON.stringify(k.extraInfo ?? "");
  const v = agg.get(key) ?? [0, 0]; v[0] += k.kernelTimeMs as number; v[1]++; agg.set(key, v);
}
console.log([...agg.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25).map(([k, v]) => `${v[0].toFixed(1)}ms n=${v[1]} ${k}`).join("\n"));
