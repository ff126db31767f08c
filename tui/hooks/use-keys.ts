// The key handler: runs the key table's actions on the workflow, opens and closes the help,
// and asks before quitting when trained steps would be lost.
import { useApp, useInput } from "ink";
import { useRef, useState } from "react";
import type { Mode } from "../components/dashboard.js";
import { KEYS } from "../keys.js";
import type { Workflow } from "../workflow.js";

export function useKeys(workflow: Workflow): Mode {
  const [mode, setMode] = useState<Mode>("main");
  // Keys typed quickly can reach a handler from the render before: it reads the mode here.
  const current = useRef<Mode>("main");
  const { exit } = useApp();

  const change = (next: Mode) => {
    current.current = next;
    setMode(next);
  };
  const quit = () => {
    change("closing");
    void workflow.close().then(() => exit());
  };

  useInput((input, key) => {
    const interrupt = key.ctrl && input === "c";
    switch (current.current) {
      case "closing":
        return;
      case "quit":
        if (input === "y" || interrupt) quit();
        else if (input === "n" || input === "q" || key.escape) change("main");
        return;
      case "help":
        change("main");
        return;
      case "main":
        if (input === "q" || interrupt) {
          if (workflow.unsavedSteps > 0) change("quit");
          else quit();
        } else if (input === "?") {
          change("help");
        } else if (!key.ctrl && !key.meta) {
          KEYS.find((k) => k.key === input)?.act?.(workflow);
        }
    }
  });

  return mode;
}
