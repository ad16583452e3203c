/**
 * TIDs: the 13-character, base32-sortable record keys of atproto.
 * 53 bits of Unix microseconds, then a 10-bit clock id.
 *
 * The appview de-duplicates statuses on their rkey, so a repeated TID silently drops a status
 * (docs/design.md, *Record keys never repeat*). `TidClock` therefore never goes backwards: it
 * starts above the newest TID already in the log (the persisted high-water mark) and uses a random
 * clock id, so even a database restored from an old backup on a host whose clock runs behind does
 * not collide.
 */
const ALPHABET = "234567abcdefghijklmnopqrstuvwxyz";
const TID_PATTERN = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

export function isTid(value: string): boolean {
  return TID_PATTERN.test(value);
}

export function encodeTid(micros: bigint, clockId: number): string {
  let value = ((micros & 0x1f_ffff_ffff_ffffn) << 10n) | BigInt(clockId & 0x3ff);
  let out = "";
  for (let i = 0; i < 13; i++) {
    out = ALPHABET.charAt(Number(value & 31n)) + out;
    value >>= 5n;
  }
  return out;
}

export function decodeTid(tid: string): { micros: bigint; clockId: number } {
  if (!isTid(tid)) throw new Error(`not a TID: ${JSON.stringify(tid)}`);
  let value = 0n;
  for (const char of tid) value = (value << 5n) | BigInt(ALPHABET.indexOf(char));
  return { micros: value >> 10n, clockId: Number(value & 0x3ffn) };
}

export class TidClock {
  private lastMicros: bigint;

  constructor(
    highWater: bigint = 0n,
    readonly clockId: number = Math.floor(Math.random() * 1024),
    private readonly nowMicros: () => bigint = () => BigInt(Date.now()) * 1000n,
  ) {
    this.lastMicros = highWater;
  }

  next(): string {
    let micros = this.nowMicros();
    if (micros <= this.lastMicros) micros = this.lastMicros + 1n;
    this.lastMicros = micros;
    return encodeTid(micros, this.clockId);
  }
}
