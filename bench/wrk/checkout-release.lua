-- wrk: checkout-release cycles. Each 201 answer's lease id is queued, and the thread's next request
-- releases it (DELETE <release prefix><id>); otherwise it checks out (as checkout.lua). The number of live
-- leases the load adds stays below the connection count, so a run measures the rate at a fixed number of
-- active leases (bench/scale.mjs). `counted` = 201s, `released` = 200/204 answers to the releases.
--   wrk ... -s bench/wrk/checkout-release.lua <url> -- <path> <release prefix> <token or -> <features> <nonce>
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)')
dofile(dir .. 'summary.lua')
dofile(dir .. 'thread-ids.lua')

counted = 0
released = 0
local path, releasePrefix, features, nonce, postHeaders, deleteHeaders
local pending = {}
local n = 0

function init(args)
  path = args[1]
  releasePrefix = args[2]
  features = {}
  for f in string.gmatch(args[4], '[^,]+') do features[#features + 1] = f end
  nonce = args[5] .. '-' .. tostring(tid)
  postHeaders = { ['content-type'] = 'application/json' }
  -- No content-type on the DELETE: Fastify refuses an empty body declared as JSON.
  deleteHeaders = {}
  if args[3] ~= '-' then
    postHeaders['authorization'] = 'Bearer ' .. args[3]
    deleteHeaders['authorization'] = 'Bearer ' .. args[3]
  end
end

function request()
  -- The release names the lease's client (?client=): a lease belongs to its client, and a client token
  -- naming none is refused (403 LEASE_NOT_OWNED, issue 11), which left every lease of the load held.
  local held = table.remove(pending)
  if held then
    return wrk.format('DELETE', releasePrefix .. held.id .. '?client=' .. held.client, deleteHeaders, nil)
  end
  n = n + 1
  local body = string.format(
    '{"feature":"%s","client":{"id":"wrk-%s-%d","host":"bench"},"requestId":"req-%s-%d"}',
    features[(n % #features) + 1], nonce, n, nonce, n)
  return wrk.format('POST', path, postHeaders, body)
end

function response(status, headers, body)
  if status == 201 then
    counted = counted + 1
    local id = body:match('"id":"([^"]+)"')
    local client = body:match('"client":{"id":"([^"]+)"')
    if id and client then pending[#pending + 1] = { id = id, client = client } end
  elseif status == 200 or status == 204 then
    released = released + 1
  end
end
