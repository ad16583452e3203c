-- wrk script: GET sh.tangled.ci.queryPipelines (limit 30) for BENCH_REPOS repos in turn, as the
-- appview asks for a repo's page; counts answers that are not 200 and prints them in done().
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  repos = tonumber(os.getenv("BENCH_REPOS") or "100")
  nextRepo = 0
  wrong = 0
  exhausted = 0
end

function request()
  nextRepo = (nextRepo + 1) % repos
  local did = string.format("did:plc:benchrepo%015d", nextRepo)
  return wrk.format("GET", "/xrpc/sh.tangled.ci.queryPipelines?repo=" .. did .. "&limit=30")
end

function response(status, headers, body)
  if status ~= 200 then wrong = wrong + 1 end
end

function done(summary, latency, requests)
  local w = 0
  for _, thread in ipairs(threads) do w = w + thread:get("wrong") end
  io.write(string.format("bench: wrong=%d exhausted=0 p50=%.3f p99=%.3f\n", w,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
