-- wrk script for the ingest benchmark (bench/wrk_load.py): every line of the requests file is
-- "<device token>\t<JSON body>"; thread i of n sends lines i, i+n, ... once each, in order, over
-- its connections, then holds its connections idle until bench/wrk_load.py stops wrk (SIGINT)
-- once the server has answered every request. Usage: wrk ... -s ingest_load.lua URL -- FILE THREADS
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local mine, index, total = {}, 0, tonumber(args[2])
  for line in io.lines(args[1]) do
    if index % total == id then
      local tab = line:find("\t", 1, true)
      table.insert(mine, wrk.format("POST", "/v1/calls", {
        ["Authorization"] = "Bearer " .. line:sub(1, tab - 1),
        ["Content-Type"] = "application/json",
      }, line:sub(tab + 1)))
    end
    index = index + 1
  end
  requests_of_thread, issued, reserved = mine, 0, 0
end

-- wrk asks delay() before each request() of a connection, for every connection at once when
-- they connect: a request is reserved here, so no body goes twice
function delay()
  if reserved >= #requests_of_thread then
    return 600000 -- all sent: idle until the stop
  end
  reserved = reserved + 1
  return 0
end

-- wrk also calls request() once before the run (to size its buffers): that one is not sent
function request()
  if issued < reserved then
    issued = issued + 1
  end
  return requests_of_thread[math.max(issued, 1)]
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests": %d, "status_errors": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
