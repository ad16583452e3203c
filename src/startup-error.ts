/**
 * A reason tack cannot start, worded for the operator as one line that names what failed and
 * where (`cannot open database /var/lib/tack/tack.db: …`). main.ts prints it as `tack: <message>`
 * and exits 1; anything else that escapes start-up is a bug and is reported the same way.
 */
export class StartupError extends Error {
  override name = "StartupError";
}
