// Follows a workflow at a bounded frame rate: a training step only marks the snapshot stale,
// a timer takes a fresh one a few times a second; a key or a stage change shows at once.
import { useEffect, useState } from "react";
import type { Snapshot } from "../snapshot.js";
import type { Workflow } from "../workflow.js";

/** Redraws per second for training progress; 5 keeps the screen calm and the CPU on training. */
export const FRAMES_PER_SECOND = 5;

export function useWorkflow(workflow: Workflow, fps = FRAMES_PER_SECOND): Snapshot {
  const [snapshot, setSnapshot] = useState(() => workflow.snapshot());
  useEffect(() => {
    let stale = false;
    const onUpdate = (urgent: boolean) => {
      if (urgent) setSnapshot(workflow.snapshot());
      else stale = true;
    };
    const timer = setInterval(() => {
      if (!stale) return;
      stale = false;
      setSnapshot(workflow.snapshot());
    }, 1000 / fps);
    workflow.on("update", onUpdate);
    return () => {
      workflow.off("update", onUpdate);
      clearInterval(timer);
    };
  }, [workflow, fps]);
  return snapshot;
}
