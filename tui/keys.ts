// The dashboard's keys: one table for the key line, the help screen and the key handler.
import type { Workflow } from "./workflow.js";

export interface KeyBinding {
  key: string;
  /** A word or two for the key line. */
  short: string;
  /** A sentence for the help screen. */
  help: string;
  /** What the key does to the workflow; the help and quit keys are handled by the app. */
  act?: (workflow: Workflow) => void;
}

export const KEYS: readonly KeyBinding[] = [
  {
    key: "]",
    short: "lr×2",
    help: "raise the learning rate ×2, from the next step",
    act: (w) => w.scaleLearningRate(2),
  },
  {
    key: "[",
    short: "lr×½",
    help: "lower the learning rate ×½, from the next step",
    act: (w) => w.scaleLearningRate(0.5),
  },
  { key: "p", short: "pause", help: "pause or resume training", act: (w) => w.togglePause() },
  {
    key: "c",
    short: "checkpoint",
    help: "write a checkpoint now (after the current step)",
    act: (w) => w.checkpoint(),
  },
  {
    key: "e",
    short: "eval",
    help: "evaluate now: validation loss on the validation set",
    act: (w) => w.evaluateNow(),
  },
  { key: "s", short: "stop", help: "stop training; the weights stay", act: (w) => w.stop() },
  {
    key: "n",
    short: "next",
    help: "next stage: start training; then checks, audits, evaluate, export",
    act: (w) => void w.next(),
  },
  { key: "?", short: "help", help: "show or hide this help" },
  { key: "q", short: "quit", help: "quit; asks first when trained steps are not saved" },
];
