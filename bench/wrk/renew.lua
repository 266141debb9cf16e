-- wrk: renewals. POST <prefix><id><suffix> with no body, cycling over the lease ids in a file (one a line);
-- each thread starts at its own offset, so the threads spread over the pool.
--   wrk ... -s bench/wrk/renew.lua <url> -- <prefix> <suffix or -> <bearer token or -> <ids file> <threads>
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)')
dofile(dir .. 'summary.lua')
dofile(dir .. 'thread-ids.lua')

local prefix, suffix, headers
local ids = {}
local i = 0

function init(args)
  prefix = args[1]
  suffix = args[2] == '-' and '' or args[2]
  headers = {}
  if args[3] ~= '-' then headers['authorization'] = 'Bearer ' .. args[3] end
  for line in io.lines(args[4]) do
    if line ~= '' then ids[#ids + 1] = line end
  end
  i = math.floor(#ids / tonumber(args[5])) * tid
end

function request()
  i = i + 1
  return wrk.format('POST', prefix .. ids[(i % #ids) + 1] .. suffix, headers, nil)
end
