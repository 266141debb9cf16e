-- wrk: checkouts. POST <path> {feature, client, requestId} with a fresh requestId and client id on every
-- request, so each call is a new checkout and never an idempotent replay; features taken round-robin.
--   wrk ... -s bench/wrk/checkout.lua <url> -- <path> <bearer token or -> <feature,feature,...> <nonce>
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)')
dofile(dir .. 'summary.lua')
dofile(dir .. 'thread-ids.lua')

local path, features, nonce, headers
local n = 0

function init(args)
  path = args[1]
  features = {}
  for f in string.gmatch(args[3], '[^,]+') do features[#features + 1] = f end
  -- nonce: one per run, so ids never repeat across runs against the same database.
  nonce = args[4] .. '-' .. tostring(tid)
  headers = { ['content-type'] = 'application/json' }
  if args[2] ~= '-' then headers['authorization'] = 'Bearer ' .. args[2] end
end

function request()
  n = n + 1
  local body = string.format(
    '{"feature":"%s","client":{"id":"wrk-%s-%d","host":"bench"},"requestId":"req-%s-%d"}',
    features[(n % #features) + 1], nonce, n, nonce, n)
  return wrk.format('POST', path, headers, body)
end
