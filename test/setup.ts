// Preloaded by bunfig.toml for every test file.
import { setDefaultTimeout } from "bun:test";

process.env.TZ = "UTC";
// Integration tests start real servers and child processes, and the fake provider spaces
// status transitions a second apart (decision 5): a few tests legitimately take seconds.
setDefaultTimeout(30_000);
