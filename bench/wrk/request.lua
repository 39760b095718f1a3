-- One request shape per run, from the environment: BENCH_METHOD, BENCH_PATH ("{id}" is replaced
-- by a random id in 1..BENCH_IDS), BENCH_BODY ("{n}" is replaced by a random rating 0..5).
local method = os.getenv("BENCH_METHOD") or "GET"
local template = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY") or ""
local ids = tonumber(os.getenv("BENCH_IDS") or "10000")
local headers = {}
if body ~= "" then headers["Content-Type"] = "application/json" end

init = function(args)
  math.randomseed(42)
end

request = function()
  local path = (template:gsub("{id}", tostring(math.random(1, ids))))
  if body ~= "" then
    local b = (body:gsub("{n}", tostring(math.random(0, 5))))
    return wrk.format(method, path, headers, b)
  end
  return wrk.format(method, path, headers)
end
