-- Numbers wrk's threads 0..n-1 (setup runs in the main Lua state, once per thread, before init), so each
-- thread can make request ids no other thread makes and start at its own place in a list.
local count = 0
function setup(thread)
  thread:set('tid', count)
  count = count + 1
end
