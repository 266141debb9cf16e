-- Shared by the wrk scripts of bench/: prints one machine-readable line at the end of a run, which
-- bench/lib/wrk.mjs parses (wrk's own text summary rounds rates and has no fixed format across versions).
-- Loaded with dofile() from each scenario script. A script that counts its own successes keeps them in
-- the globals `counted` and `released` of each thread; -1 when it does not.
local function total(name)
  if threads == nil then return -1 end
  local sum = 0
  for _, thread in ipairs(threads) do
    local value = thread:get(name)
    if value == nil then return -1 end
    sum = sum + value
  end
  return sum
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"durationUs":%d,"requests":%d,"bytes":%d,"counted":%d,"released":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.duration, summary.requests, summary.bytes, total('counted'), total('released'),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
