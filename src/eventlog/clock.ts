/**
 * The `created` stamp of event rows: Unix nanoseconds, unique and strictly increasing
 * (docs/design.md, *Cursors are nanoseconds*). The appview sends its own wall clock back as
 * ?cursor=, so `created` follows the wall clock (ms precision scaled to ns) and only steps by +1 ns
 * when the clock has not advanced or went backwards, which keeps it unique across restarts when
 * seeded from the newest row.
 */
export class CreatedClock {
  private last: bigint;

  constructor(
    highWater: bigint = 0n,
    private readonly nowNanos: () => bigint = () => BigInt(Date.now()) * 1_000_000n,
  ) {
    this.last = highWater;
  }

  next(): bigint {
    let created = this.nowNanos();
    if (created <= this.last) created = this.last + 1n;
    this.last = created;
    return created;
  }
}
