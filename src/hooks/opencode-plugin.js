// cafleet: tells cafleet what this opencode agent is doing (installed by `cafleet up`
// for the agents it starts; see `cafleet agent hook`). Each event that changes the
// agent's state runs `cafleet agent hook opencode` with the event as JSON on stdin, one
// at a time and in order; nothing else is read or changed.
import { spawn } from "node:child_process";

const EVENTS = new Set([
  "session.idle",
  "permission.asked",
  "permission.replied",
  "question.asked",
  "question.replied",
]);

export const CafleetState = async () => {
  const exe = process.env.CAFLEET_EXE;
  let queue = Promise.resolve();
  const report = (payload) => {
    if (!exe) return;
    queue = queue.then(
      () =>
        new Promise((done) => {
          try {
            const child = spawn(exe, ["agent", "hook", "opencode"], {
              stdio: ["pipe", "ignore", "ignore"],
            });
            child.on("error", () => done());
            child.on("exit", () => done());
            child.stdin.on("error", () => {});
            child.stdin.end(JSON.stringify(payload));
          } catch {
            done();
          }
        }),
    );
  };
  return {
    event: async ({ event }) => {
      if (event.type === "session.status") {
        report({ hook_event_name: event.type, status: event.properties?.status?.type });
      } else if (EVENTS.has(event.type)) {
        report({ hook_event_name: event.type });
      }
    },
    "chat.message": async (_input, output) => {
      const prompt = (output?.parts ?? [])
        .filter((part) => part.type === "text")
        .map((part) => part.text ?? "")
        .join("\n");
      report({ hook_event_name: "chat.message", prompt });
    },
  };
};
