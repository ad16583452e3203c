/**
 * Version and commit of this build. scripts/build.ts inlines TACK_BUILD_COMMIT with `define`;
 * running from source reports the working tree as "dev".
 */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
export const COMMIT: string = process.env.TACK_BUILD_COMMIT ?? "dev";
