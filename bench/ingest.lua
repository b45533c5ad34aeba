-- wrk script for the webhook endpoint: POST pre-signed Stripe events (bench/events.py).
--   wrk ... --script bench/ingest.lua URL -- EVENTS_FILE THREADS
-- EVENTS_FILE has one "<Stripe-Signature>\t<body>" line per event. Thread i of THREADS
-- sends lines i, i+THREADS, i+2*THREADS, ... in order, so no event is sent twice;
-- should a thread run out it starts its slice again, and `done` prints "REPEATED n".
local threads = {}
local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(args[2])
  events = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % total == index then
      local tab = line:find("\t", 1, true)
      events[#events + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["Stripe-Signature"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1))
    end
    n = n + 1
  end
  position = 0
  repeated = 0
end

function request()
  position = position + 1
  if position > #events then
    position = 1
    repeated = repeated + 1
  end
  if repeated > 0 then
    repeated_requests = (repeated_requests or 0) + 1
  end
  return events[position]
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("repeated_requests") or 0)
  end
  io.write(string.format("REPEATED %d\n", total))
end
