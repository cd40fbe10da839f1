-- The layout of src/ that README's "Inside" describes: every file small
-- enough to read, the loop calling no binding by name, and no cycle among
-- the files' includes (a module is a .c and its .h). Anyone can check the
-- last with: busted --lua=build/retryrun spec/layout_spec.lua
describe("src/", function()
  --- The files of src/ (not src/todo/) and the src/ files each includes
  -- with #include "...".
  local function includes()
    local files = {}
    local p = assert(io.popen("ls src/*.c src/*.h"))
    for path in p:lines() do
      local inc = {}
      for line in io.lines(path) do
        local name = line:match('^%s*#%s*include%s+"([^"]+)"')
        if name and not name:find("/") then inc[#inc + 1] = name end
      end
      files[path:match("[^/]+$")] = inc
    end
    p:close()
    return files
  end

  it("has no file over 650 lines, todo-server's included", function()
    local p = assert(io.popen("ls src/*.c src/*.h src/todo/*.c src/todo/*.h"))
    for path in p:lines() do
      local n = 0
      for _ in io.lines(path) do n = n + 1 end
      assert.is_true(n <= 650, path .. " has " .. n .. " lines")
    end
    p:close()
  end)

  it("the loop names no binding, host or task function", function()
    local files = includes()
    for _, name in ipairs{"loop.c", "loop.h"} do
      for _, inc in ipairs(files[name]) do
        assert.is_falsy(inc:find("^lua_") or inc == "host.h"
                        or inc == "runtime.h", name .. " includes " .. inc)
      end
      local text = assert(io.open("src/" .. name)):read("a")
      for _, word in ipairs{"task_finished", "ltask_", "lhttp_", "host_",
                            "runtime_of", "struct task "} do
        assert.is_falsy(text:find(word, 1, true), name .. " names " .. word)
      end
    end
  end)

  -- x.c, x.h and an x_internal.h shared by x's files are one module
  it("has no include cycle between its modules", function()
    local edges = {}
    for file, inc in pairs(includes()) do
      local from = file:gsub("%.[ch]$", ""):gsub("_internal$", "")
      edges[from] = edges[from] or {}
      for _, name in ipairs(inc) do
        local to = name:gsub("%.[ch]$", ""):gsub("_internal$", "")
        if to ~= from then edges[from][to] = true end
      end
    end
    local state, path = {}, {}
    local function visit(m)
      if state[m] == "done" then return end
      if state[m] == "open" then
        local cycle, from = {}, 1
        for i, n in ipairs(path) do if n == m then from = i end end
        for i = from, #path do cycle[#cycle + 1] = path[i] end
        cycle[#cycle + 1] = m
        error("include cycle: " .. table.concat(cycle, " -> "), 0)
      end
      state[m] = "open"
      path[#path + 1] = m
      for to in pairs(edges[m] or {}) do visit(to) end
      path[#path] = nil
      state[m] = "done"
    end
    for m in pairs(edges) do visit(m) end
  end)
end)
