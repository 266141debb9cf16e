-- Numbers wrk's threads 0..n-1 (setup runs in the main Lua state, once per thread, before init), so each
-- thread can make request ids no other thread makes and start at its own place in a list; keeps the
-- threads so summary.lua can add up what each counted.
threads = {}
function setup(thread)
  thread:set('tid', #threads)
  threads[#threads + 1] = thread
end
