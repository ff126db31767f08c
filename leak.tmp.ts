import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./lib/engine/backend.js";
import { LlamaModel } from "./lib/model/llama.js";
await initBackend();
const TINY = { hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4,
  vocabSize: 32, maxPositions: 64, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true, bosTokenId: 1, eosTokenId: 2 };
for (const mode of ["none", "lora-open", "lora-frozen", "full"]) {
  const model = LlamaModel.random(TINY, 6);
  if (mode.startsWith("lora")) model.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["all-linear"], seed: 1 });
  const vars = mode === "lora-frozen" ? model.trainableVariables({ method: "lora" }) : mode === "lora-open" ? new Map(model.lora) : model.trainableVariables({ method: "full" });
  const ids = tf.tensor2d([[1, 4, 4, 9, 2]], undefined, "int32");
  const f = () => { const { value, grads } = tf.variableGrads(() => tf.sum(model.forward(ids, { training: true })) as tf.Scalar, [...vars.values()]); tf.dispose([value, ...Object.values(grads)]); };
  f(); const b = tf.memory().numTensors; f(); console.log(mode, tf.memory().numTensors - b);
  const fw = () => tf.tidy(() => model.forward(ids).dataSync()); fw(); const c = tf.memory().numTensors; fw(); console.log(mode, "fwd", tf.memory().numTensors - c);
  model.dispose(); ids.dispose();
}
