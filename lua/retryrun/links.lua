--- Web links (RFC 8288): `Link` header values read into tables, their
-- targets resolved (RFC 3986, section 5) against the URL of the response
-- that carried them.
--
-- Reading is best effort and never raises on what a server sends: a link
-- it cannot make out is skipped, the next one read. Pure Lua: no network,
-- no retryrun.core.
--
-- @module retryrun.links
-- @usage
-- local links = require "retryrun.links"
-- local l = links.parse('</items?page=2>; rel="next"', "http://h/items")
-- print(l.next.url)   --> http://h/items?page=2

local type, tostring = type, tostring
local concat = table.concat

local links = {}

-- scheme, authority (nil when absent), path, query (with its "?", or
-- nil) and fragment (with its "#", or nil) of a URI reference, as the
-- regular expression of RFC 3986 appendix B splits it.
local function split(ref)
  local scheme, rest = ref:match("^([%a][%w+.-]*):(.*)$")
  if not scheme then
    rest = ref
  end
  local fragment = rest:match("#.*$")
  if fragment then
    rest = rest:sub(1, #rest - #fragment)
  end
  local query = rest:match("%?.*$")
  if query then
    rest = rest:sub(1, #rest - #query)
  end
  local authority, path = rest:match("^//([^/]*)(.*)$")
  if not authority then
    path = rest
  end
  return scheme, authority, path, query, fragment
end

-- path with its "." and ".." segments taken out (RFC 3986 5.2.4), in one
-- pass over it.
local function remove_dots(path)
  local out, i, n = {}, 1, #path
  while i <= n do
    if path:find("^%.%.?/", i) then             -- "../" or "./"
      i = path:find("/", i, true) + 1
    elseif path:find("^/%./", i) then           -- "/./" is "/"
      i = i + 2
    elseif path:find("^/%.$", i) then
      out[#out + 1] = "/"
      i = n + 1
    elseif path:find("^/%.%./", i) then         -- "/../": up one
      out[#out] = nil
      i = i + 3
    elseif path:find("^/%.%.$", i) then
      out[#out] = nil
      out[#out + 1] = "/"
      i = n + 1
    elseif path:find("^%.%.?$", i) then
      i = n + 1
    else
      -- the first segment, with its leading "/" if any
      local seg = path:match("^/?[^/]*", i)
      out[#out + 1] = seg
      i = i + #seg
    end
  end
  return concat(out)
end

--- Resolves a URI reference against a base URL (RFC 3986 5.2.2), as a
-- browser resolves a link: `resolve("http://h/a/b?q", "../c")` is
-- `http://h/c`.
-- @tparam string base an absolute URL (the response's)
-- @tparam string ref a reference: absolute, `//host/...`, `/path`,
--   `path`, `?query` or `#fragment`
-- @treturn string the absolute URL; ref itself when base is not absolute
function links.resolve(base, ref)
  local rs, ra, rp, rq, rf = split(ref)
  local s, a, p, q
  if rs then
    s, a, p, q = rs, ra, remove_dots(rp), rq
  else
    local bs, ba, bp, bq = split(base)
    if not bs then
      return ref
    end
    s = bs
    if ra then
      a, p, q = ra, remove_dots(rp), rq
    else
      a = ba
      if rp == "" then
        p, q = bp, rq or bq
      elseif rp:sub(1, 1) == "/" then
        p, q = remove_dots(rp), rq
      else
        -- merge: the base path up to its last "/" (5.2.3)
        local dir = (ba and bp == "") and "/" or bp:match("^(.*/)") or ""
        p, q = remove_dots(dir .. rp), rq
      end
    end
  end
  return s .. ":" .. (a and "//" .. a or "") .. p .. (q or "") .. (rf or "")
end

-- Where the quoted-string starting at i (its opening quote) ends: its
-- value with the backslash escapes undone, and the index after it; an
-- unterminated one runs to the end of s.
local function quoted(s, i)
  local out, j = {}, i + 1
  while j <= #s do
    local c = s:sub(j, j)
    if c == '"' then
      return concat(out), j + 1
    elseif c == "\\" and j < #s then
      j = j + 1
      c = s:sub(j, j)
    end
    out[#out + 1] = c
    j = j + 1
  end
  return concat(out), j
end

-- Index of the first "," at or after i outside quotes and <...>, or
-- #s + 1.
local function next_comma(s, i)
  while i <= #s do
    local c = s:sub(i, i)
    if c == "," then
      return i
    elseif c == '"' then
      local _, j = quoted(s, i)
      i = j
    elseif c == "<" then
      i = (s:find(">", i + 1, true) or #s) + 1
    else
      i = i + 1
    end
  end
  return i
end

-- Reads one link-value starting at i: the link (or nil when it cannot be
-- read) and the index after it (past the comma that ends it).
local function read_link(s, i, base)
  i = s:find("[^%s,]", i)
  if not i then
    return nil, #s + 1
  end
  local close = s:sub(i, i) == "<" and s:find(">", i + 1, true)
  if not close then
    return nil, next_comma(s, i) + 1
  end
  local target = s:sub(i + 1, close - 1):gsub("^%s+", ""):gsub("%s+$", "")
  local link = {url = base and links.resolve(base, target) or target,
                target = target}
  i = close + 1
  while true do
    local at = s:find("[^%s]", i)
    if not at or s:sub(at, at) == "," then
      return link, (at or #s) + 1
    elseif s:sub(at, at) ~= ";" then
      -- not a parameter: the rest of this link is unreadable
      return link, next_comma(s, at) + 1
    end
    local empty = s:match("^%s*()[;,]", at + 1)
    local name, after = s:match("^%s*([!#$%%&'*+.^_`|~%w-]+)%s*()", at + 1)
    if empty then
      i = empty                    -- ";;" or ";,": an empty parameter
    elseif not name then
      return link, next_comma(s, at + 1) + 1
    else
      local value = ""
      i = after
      if s:sub(i, i) == "=" then
        i = s:find("[^%s]", i + 1) or #s + 1
        if s:sub(i, i) == '"' then
          value, i = quoted(s, i)
        else
          value = s:match("^[^%s;,]*", i)
          i = i + #value
        end
      end
      -- a parameter given twice keeps its first value (RFC 8288 3.3)
      name = name:lower()
      if link[name] == nil and name ~= "url" and name ~= "target" then
        link[name] = value
      end
    end
  end
end

--- Reads a `Link` header value: `<URL>; rel="next"; title="x", <...>`.
-- Several headers joined with ", " read as one (as the responses of
-- retryrun give them).
-- @tparam string value the header's value (nil reads as none)
-- @tparam[opt] string base the URL the targets are relative to
-- @treturn table every link in order (`[1]`, `[2]`, ...), each a table
--   with `url` (resolved), `target` (as written) and its parameters by
--   lower-case name (`rel`, `title`, `type`, ...; one without a value is
--   ""); and each link also under every relation type in its `rel`
--   (lower case, split at spaces; the first link of a type wins):
--   `t.next.url`
function links.parse(value, base)
  local t = {}
  if type(value) ~= "string" then
    return t
  end
  base = type(base) == "string" and base or nil
  local i = 1
  while i <= #value do
    local link
    link, i = read_link(value, i, base)
    if link then
      t[#t + 1] = link
      for rel in tostring(link.rel or ""):lower():gmatch("%S+") do
        if t[rel] == nil then
          t[rel] = link
        end
      end
    end
  end
  return t
end

return links
