/** Listeners by correlation id: a wake reaches the build's subscribers only, until they leave. */
import { expect, test } from "bun:test";
import { BuildListeners } from "../../src/providers/build-listeners.ts";

test("a wake calls the build's listeners, not another build's, and not after unsubscribing", () => {
  const listeners = new BuildListeners();
  const heard: string[] = [];
  const stopA = listeners.subscribe("corr-a", () => heard.push("a1"));
  listeners.subscribe("corr-a", () => heard.push("a2"));
  listeners.subscribe("corr-b", () => heard.push("b"));
  listeners.wake("corr-a");
  expect(heard).toEqual(["a1", "a2"]);
  stopA();
  listeners.wake("corr-a");
  listeners.wake("corr-none");
  expect(heard).toEqual(["a1", "a2", "a2"]);
  listeners.wake("corr-b");
  expect(heard).toEqual(["a1", "a2", "a2", "b"]);
});
