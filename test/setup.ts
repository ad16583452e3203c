// Preloaded by bunfig.toml for every test file.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/temp.ts";

process.env.TZ = "UTC";
afterAll(removeTempDirs);
