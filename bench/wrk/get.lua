-- wrk: GET of the URL given on the command line (the bare Fastify baseline); only the summary line added.
dofile(debug.getinfo(1, 'S').source:match('^@(.*/)') .. 'summary.lua')
