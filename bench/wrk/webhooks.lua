-- wrk script: POSTs pre-signed Buildkite deliveries from BENCH_REQUESTS (one per line:
-- "<signature header>\t<body>"), each thread its own share, in order, never repeating one
-- (a repeat would be a cheaper "duplicate"). Answers whose body is not BENCH_EXPECT, and
-- deliveries sent after a thread ran out, are counted and printed by done().
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if limit > 0 and #all >= limit then break end
    table.insert(all, line)
  end
  local total = tonumber(os.getenv("BENCH_THREADS") or "1")
  requests = {}
  for i = index, #all, total do
    local tab = all[i]:find("\t", 1, true)
    local signature, body = all[i]:sub(1, tab - 1), all[i]:sub(tab + 1)
    table.insert(requests, wrk.format("POST", "/webhooks/buildkite", {
      ["Content-Type"] = "application/json",
      ["User-Agent"] = "Buildkite-Request",
      ["X-Buildkite-Event"] = "build.running",
      ["X-Buildkite-Signature"] = signature,
    }, body))
  end
  expect = os.getenv("BENCH_EXPECT") or "ok\n"
  nextRequest = 0
  wrong = 0
  exhausted = 0
end

function request()
  nextRequest = nextRequest + 1
  if nextRequest > #requests then exhausted = exhausted + 1 end
  return requests[(nextRequest - 1) % #requests + 1]
end

function response(status, headers, body)
  if status ~= 200 or body ~= expect then wrong = wrong + 1 end
end

function done(summary, latency, requests)
  local w, e = 0, 0
  for _, thread in ipairs(threads) do
    w = w + thread:get("wrong")
    e = e + thread:get("exhausted")
  end
  io.write(string.format("bench: wrong=%d exhausted=%d p50=%.3f p99=%.3f\n", w, e,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
