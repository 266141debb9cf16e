-- wrk: checkout-checkin cycles with a client token (bench/replication.mjs). As checkout-release.lua, but
-- the check-in names the lease's client (`DELETE <prefix><id>?client=<client id>`): a client token may end
-- only its own client's leases (issue 11). Each 201's lease id and client id are queued and the thread's
-- next request checks that lease in, so the load holds at most about one lease per connection.
-- `counted` = 201s, `released` = 200/204 answers to the check-ins.
--   wrk ... -s bench/wrk/checkout-checkin.lua <url> -- <path> <release prefix> <token> <features> <nonce>
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
  postHeaders = { ['content-type'] = 'application/json', ['authorization'] = 'Bearer ' .. args[3] }
  -- No content-type on the DELETE: Fastify refuses an empty body declared as JSON.
  deleteHeaders = { ['authorization'] = 'Bearer ' .. args[3] }
end

function request()
  local lease = table.remove(pending)
  if lease then
    return wrk.format('DELETE', releasePrefix .. lease.id .. '?client=' .. lease.client, deleteHeaders, nil)
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
