/**
 * The process metrics every Prometheus client exports, under their usual names: CPU seconds,
 * resident and virtual memory, the data segment (process_heap_bytes), open and maximum file
 * descriptors, start time; and the JavaScript heap and event-loop lag as Node clients name
 * them. Read at scrape time. Where /proc is missing (macOS), the rows that need it are left out.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Gauge, type Registry } from "./prometheus.ts";

/** Registers the process metrics on `registry`; `lagSeconds` is the last measured lag. */
export function registerProcessMetrics(registry: Registry, lagSeconds: () => number): void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const one = (
    name: string,
    help: string,
    read: () => number | undefined,
    type: "gauge" | "counter" = "gauge",
  ) =>
    new Gauge(
      {
        name,
        help,
        type,
        collect: (set) => {
          const value = read();
          if (value !== undefined) set({}, value);
        },
      },
      registry,
    );
  one(
    "process_cpu_user_seconds_total",
    "Total user CPU time spent in seconds.",
    () => process.cpuUsage().user / 1e6,
    "counter",
  );
  one(
    "process_cpu_system_seconds_total",
    "Total system CPU time spent in seconds.",
    () => process.cpuUsage().system / 1e6,
    "counter",
  );
  one(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
    "counter",
  );
  one(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    () => startSeconds,
  );
  one("process_resident_memory_bytes", "Resident memory size in bytes.", () =>
    process.memoryUsage.rss(),
  );
  one("process_virtual_memory_bytes", "Virtual memory size in bytes.", () => statusKib("VmSize"));
  one("process_heap_bytes", "Process heap (data segment) size in bytes.", () =>
    statusKib("VmData"),
  );
  one("process_open_fds", "Number of open file descriptors.", openFds);
  one("process_max_fds", "Maximum number of open file descriptors.", maxFds);
  one(
    "nodejs_heap_size_total_bytes",
    "JavaScript heap size in bytes.",
    () => process.memoryUsage().heapTotal,
  );
  one(
    "nodejs_heap_size_used_bytes",
    "JavaScript heap in use, in bytes.",
    () => process.memoryUsage().heapUsed,
  );
  one(
    "nodejs_external_memory_bytes",
    "Memory outside the JavaScript heap held by it, in bytes.",
    () => process.memoryUsage().external,
  );
  one(
    "nodejs_eventloop_lag_seconds",
    "How long a task queued at the scrape waited for the event loop, in seconds.",
    lagSeconds,
  );
}

/** A `Vm…` line of /proc/self/status, in bytes. */
function statusKib(field: string): number | undefined {
  const status = readProc("/proc/self/status");
  const match = status && new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

function openFds(): number | undefined {
  try {
    // Less the descriptor the listing itself holds open.
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  const limits = readProc("/proc/self/limits");
  const match = limits && /^Max open files\s+(\d+)/m.exec(limits);
  return match ? Number(match[1]) : undefined;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
