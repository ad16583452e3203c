/**
 * Column types shared by every table definition (the core's in schema.ts, the providers' in
 * their folders).
 *
 * The database is opened with safeIntegers (src/db/client.ts): SQLite integers arrive as bigint,
 * so Unix-nanosecond values above 2^53 survive exactly. These two column types make the choice
 * explicit per column: `nanos` stays bigint, `int` is a small number.
 */
import { customType } from "drizzle-orm/sqlite-core";

export const nanos = customType<{ data: bigint; driverData: bigint | number }>({
  dataType: () => "integer",
  fromDriver: (value) => BigInt(value),
});

export const int = customType<{ data: number; driverData: bigint | number }>({
  dataType: () => "integer",
  fromDriver: (value) => Number(value),
});
