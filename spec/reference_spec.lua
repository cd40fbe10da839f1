-- docs/reference.md against the code: every request option, policy field,
-- secret name, command-line option and exit code that the sources define
-- is documented there (and the command line in the man page too). The
-- names are read from the sources, so a new one without documentation
-- fails here.

local read = require("spec.support.common").read

local REFERENCE = read("docs/reference.md")
local MAN = read("docs/retryrun.1.scd")

-- The quoted strings of the C array `name[] = { ... }` in text.
local function c_strings(text, name)
  local body = text:match(name .. "%[[%w_]*%]%s*=%s*{(.-)}")
  assert(body, "no array " .. name .. "[] found")
  local list = {}
  for s in body:gmatch('"([^"]*)"') do list[#list + 1] = s end
  return list
end

-- The keys of http.lua's `local OPTIONS = {k = true, ...}`.
local function request_options()
  local body = read("lua/retryrun/http.lua"):match("local OPTIONS = (%b{})")
  assert(body, "no OPTIONS table in lua/retryrun/http.lua")
  local list = {}
  for k in body:gmatch("([%a_][%w_]*)%s*=%s*true") do list[#list + 1] = k end
  return list
end

-- Every option named in the option column of a usage line in main.c: a
-- string literal "  -x ..." whose first column (up to two spaces) holds
-- -x or --name.
local function usage_options(main)
  local set, list = {}, {}
  for line in main:gmatch('\n%s*"  (%-[^"]*)"') do
    local column = line:match("^(.-)%s%s") or line:match("^(.-)\\n") or line
    for opt in column:gmatch("%-%-?%a[%w-]*") do
      if not set[opt] then
        set[opt] = true
        list[#list + 1] = opt
      end
    end
  end
  return list
end

-- The exit codes the usage text lists after "exit codes:", up to its
-- next empty line.
local function exit_codes(main)
  local text = main:match("exit codes:(.-)\\n\"%s*\"\\n\"")
  assert(text, "no 'exit codes:' paragraph in src/main.c's usage text")
  local list = {}
  for n in text:gmatch("(%d+) %a") do list[#list + 1] = n end
  return list
end

-- The names in list that the text does not show in the form make(name)
-- gives (a pattern).
local function missing(list, text, make)
  local out = {}
  for _, name in ipairs(list) do
    if not text:find(make(name)) then out[#out + 1] = name end
  end
  return out
end

local function esc(s) return (s:gsub("%p", "%%%0")) end
local function code(name) return "`" .. esc(name) .. "`" end
-- `--seed N`, `--color=WHEN`, `-v`, `-e CODE`
local function cli(name) return "`" .. esc(name) .. "[ =`]" end

describe("docs/reference.md", function()
  local main = read("src/main.c")

  it("lists every request option of lua/retryrun/http.lua", function()
    local list = request_options()
    assert.truthy(#list >= 12)
    assert.same({}, missing(list, REFERENCE, code))
  end)

  it("lists every policy field of src/lua_policy.c", function()
    local policy = read("src/lua_policy.c")
    local list = c_strings(policy, "fields")
    assert.truthy(#list >= 15)
    assert.same({}, missing(list, REFERENCE, code))
    -- backoff's own fields, written as in a table: initial = 0.1
    assert.same({}, missing(c_strings(policy, "backoff_fields"), REFERENCE,
      function(n) return "`" .. esc(n) .. "`" end))
  end)

  it("lists every failure class and jitter of src/policy.c", function()
    local policy = read("src/policy.c")
    local list = c_strings(policy, "class_names")
    assert.truthy(#list >= 8)
    local classes = {}
    for _, c in ipairs(list) do
      if c ~= "response" then classes[#classes + 1] = c end
    end
    assert.same({}, missing(classes, REFERENCE, code))
    local jitters = {}
    for j in policy:match("policy_jitter_from_name(.-)\n}"):gmatch('"(%w+)"')
    do jitters[#jitters + 1] = j end
    assert.same({}, missing(jitters, REFERENCE, function(n)
      return '"' .. esc(n) .. '"' end))
  end)

  it("lists every give-up reason of src/lua_giveup.c", function()
    local list = {}
    for r in read("src/lua_giveup.c"):match("lgiveup_reason(.-)\n}")
                                     :gmatch('return "([%w_]+)"') do
      list[#list + 1] = r
    end
    assert.truthy(#list >= 5)
    list[#list + 1] = "interrupted"
    list[#list + 1] = "cancelled"
    assert.same({}, missing(list, REFERENCE, function(n)
      return "| " .. code(n) .. " |" end))
  end)

  it("lists every secret name of src/redact.c", function()
    local list = c_strings(read("src/redact.c"), "builtin")
    assert.truthy(#list >= 40)
    assert.same({}, missing(list, REFERENCE, function(n)
      return "[\n ]" .. esc(n) .. "[,\n]" end))
  end)

  it("lists every long option of src/main.c's long_opts", function()
    local list = c_strings(main, "long_opts")
    assert.truthy(#list >= 7)
    assert.same({}, missing(list, REFERENCE, cli))
  end)

  it("lists every option of src/main.c's usage text", function()
    local list = usage_options(main)
    local seen = {}
    for _, o in ipairs(list) do seen[o] = true end
    assert.truthy(seen["-e"] and seen["--seed"] and seen["-v"] and
                  seen["--color"] and seen["--help"])
    assert.same({}, missing(list, REFERENCE, cli))
  end)

  it("lists every exit code of src/host.h", function()
    local list = {}
    for n in read("src/host.h"):gmatch("EXIT_[%u_]+%s*=%s*(%d+)") do
      list[#list + 1] = n
    end
    assert.truthy(#list >= 6)
    assert.same({}, missing(list, REFERENCE, function(n)
      return "\n| " .. n .. " |" end))
  end)

  it("lists every exit code of src/main.c's usage text", function()
    local list = exit_codes(main)
    assert.same({"0", "1", "2", "3", "4", "130", "143"},
                {list[1], list[2], list[3], list[4], list[5], list[6],
                 list[7]})
    assert.same({}, missing(list, REFERENCE, function(n)
      return "\n| " .. n .. " |" end))
  end)
end)

describe("docs/retryrun.1.scd", function()
  local main = read("src/main.c")

  it("lists every option and exit code of src/main.c", function()
    local opts = usage_options(main)
    for _, o in ipairs(c_strings(main, "long_opts")) do opts[#opts + 1] = o end
    assert.same({}, missing(opts, MAN, function(n)
      return "%*" .. esc(n) .. "%*" end))
    assert.same({}, missing(exit_codes(main), MAN, function(n)
      return "\n%*" .. n .. "%*\n" end))
  end)
end)
