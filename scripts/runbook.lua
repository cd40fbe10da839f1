--- A runbook: create N records and read each back, update them, page
-- through them, delete them, and check that nothing was made twice,
-- through a flaky API.
--
-- The job most scripts start as. One session holds what every call
-- shares: the base URL, the credentials and a policy that puts one
-- Idempotency-Key on each POST, so that a create whose answer was lost is
-- repeated without making a second record (GETs, PUTs and DELETEs are
-- safe to repeat as they are). A new record may read as 404 for a moment (an
-- eventually consistent store): that read is a poll, not a failure.
--
-- Show it off (500s, dropped connections, lost answers, and new records
-- that are not there yet):
--   build/todo-server --listen 127.0.0.1:0 --fail-rate 0.1 \
--     --reset-rate 0.05 --lose-response-rate 0.1 --lag 100 --seed 1
--   build/retryrun scripts/runbook.lua http://127.0.0.1:PORT 50
-- The last line is for scripts to read:
--   created=50 updated=50 listed=50 deleted=50 left=0 duplicates=0

local http = require "retryrun.http"
local run = require "retryrun.run"

local USAGE = "usage: runbook.lua API_URL [N]"
local API_URL = assert(arg[1], USAGE)
local N = assert(math.tointeger(tonumber(arg[2] or "50")), USAGE)

local api = http.session{
  base = API_URL .. "/",
  auth = {bearer = "alice-secret"},
  retry = {attempts = 6, idempotency_key = true},
}

local numbers = {}
for i = 1, N do numbers[i] = i end

-- 1. Create N records, 8 at a time, and read each back: a new record
-- may be 404 for a moment, which is "not there yet" (the id came from the
-- server), so the read is a poll.
local ids = run.step("create", function()
  return run.map(numbers, function(i)
    local summary = ("record %d"):format(i)
    local id = api:post("items", {json = {summary = summary},
                                  expect = 201}):json().id
    local got = api:poll("items/" .. id, {every = 0.05, deadline = 30,
      ready = function(r)
        if r.status == 404 then return false end
        if r.status ~= 200 then return nil, ("status %d"):format(r.status) end
        return true
      end}):json()
    assert(got.summary == summary, "record " .. id .. " reads back wrong")
    return id
  end, {concurrency = 8})
end)
local mine = {}
for i, id in ipairs(ids) do mine[id] = i end
print(("created %d records, each read back"):format(#ids))

-- 2. Update each: a PUT is safe to repeat as it is.
local function updated(i) return ("record %d, checked"):format(i) end
run.step("update", function()
  run.map(ids, function(id)
    api:put("items/" .. id, {json = {summary = updated(mine[id])},
                             expect = 200})
  end, {concurrency = 8})
end)
print(("updated %d"):format(#ids))

-- 3. Page through the list: each record once, updated.
local listed, seen, duplicates = 0, {}, 0
run.step("verify", function()
  for page in api:pages("items", {query = {per_page = 20}}) do
    for _, item in ipairs(page:json()) do
      local i = mine[item.id]
      if i and not seen[i] then
        assert(item.summary == updated(i), "record " .. item.id ..
               " lists as " .. tostring(item.summary))
        seen[i], listed = true, listed + 1
      elseif i or (item.summary or ""):find("^record %d+") then
        duplicates = duplicates + 1        -- listed twice, or made twice
      end
    end
  end
end)
print(("listed %d of them on the pages, %d duplicates"):format(listed,
                                                              duplicates))
-- 4. Delete them (todo-server marks them done), then check none is left.
run.step("delete", function()
  run.map(ids, function(id)
    api:delete("items/" .. id, {expect = 200})
  end, {concurrency = 8})
end)
local left = 0
for page in api:pages("items", {query = {per_page = 100}}) do
  for _, item in ipairs(page:json()) do
    if mine[item.id] then left = left + 1 end
  end
end
print(("deleted %d; %d left open"):format(#ids, left))

print(("created=%d updated=%d listed=%d deleted=%d left=%d duplicates=%d")
      :format(#ids, #ids, listed, #ids, left, duplicates))
if listed ~= N or left ~= 0 or duplicates ~= 0 then
  os.exit(1)
end
