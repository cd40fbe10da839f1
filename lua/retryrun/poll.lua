--- Polling and pagination: a call repeated until its answer is ready, and
-- a list read page by page.
--
-- A poll that is not ready yet is not a failure: it is neither retried
-- nor counted as a retry. Each poll, and each page, is an ordinary call
-- under the retry policy (a 500 or a reset is retried as usual); the
-- polling around it waits with run.sleep and reads the time with run.now,
-- the loop's own clock. retryrun.http installs what this module provides
-- (`http.poll`, `http.pages`, `http.parse_links`, `http.is_poll_error`,
-- `resp:links()`); a module that makes its calls some other way passes
-- its own request function to `poll.poll` and `poll.pages`.
--
-- @module retryrun.poll
-- @usage
-- local job = http.poll(API .. "/jobs/7", {every = 2, deadline = 600,
--   ready = function(resp)
--     local state = resp:json().state
--     if state == "failed" then return nil, "the job failed" end
--     return state == "done"
--   end})
-- for page in http.pages(API .. "/items?per_page=100") do ... end

local core = require "retryrun.core"
local retry = require "retryrun.retry"
local check = require "retryrun.check"
local links = require "retryrun.links"
local json_encode = require("retryrun.json").encode

local type, pairs, pcall, error, tostring = type, pairs, pcall, error,
                                            tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local now, sleep, redact = core.now, core.sleep, core.redact
local note_poll = core.note_poll
local fail, show, suggest = check.fail, check.show, check.suggest

local poll = {}

local DEADLINE = 300        -- seconds polling goes on, by default
local EVERY = 1             -- seconds between polls, by default
local CALL_DEADLINE = 60    -- the deadline of a policy that sets none
local MIN_WAIT = 0.001      -- no wait between polls is shorter
local MIN_POLL = 0.01       -- no poll starts with less time than this left
local MAX_PAGES = 10000     -- pages, by default, before pages() stops

local POLL_OPTIONS = {ready = true, every = true, backoff = true,
                      deadline = true}
local PAGES_OPTIONS = {next = true, max_pages = true}

--- The error http.poll raises when polling ends without a ready answer.
local PollError = {__name = "retryrun.PollError"}
PollError.__index = PollError
function PollError:__tostring() return self.message end

-- Raises unless v is nil or a number of seconds from lo to 1e9.
local function check_seconds(name, v, lo)
  if v ~= nil and (type(v) ~= "number" or not (v >= lo and v <= 1e9)) then
    fail(("%s must be a number of seconds from %g to 1e9 (got %s)")
         :format(name, lo, show(v)))
  end
end

-- The request options in opts (a copy): every key but the ones of
-- `own`, a session's private key (poll.SESSION) included. An unknown key
-- raises, naming fname, with "did you mean" over both lists.
local function request_options(fname, opts, own, known)
  local req = {}
  for k, v in pairs(opts) do
    if not own[k] then
      if k ~= poll.SESSION and (type(k) ~= "string" or not known[k]) then
        local all = {}
        for n in pairs(known) do all[n] = true end
        for n in pairs(own) do all[n] = true end
        fail(("unknown %s option %s%s"):format(fname,
             type(k) == "string" and "'" .. k .. "'" or show(k),
             type(k) == "string" and suggest(k, all) or ""))
      end
      req[k] = v
    end
  end
  if req.url ~= nil then
    fail(fname .. " takes the url as its first argument")
  end
  return req
end

-- What redaction needs of a request: its URL, headers and body; with a
-- session's credentials too (those its calls to url add), as they are
-- now: call it again after a call that may have renewed a token.
local function secrets_of(url, req, to)
  local body = req.body
  if req.json ~= nil then
    local ok, text = pcall(json_encode, req.json)
    body = ok and text or nil
  end
  local headers = type(req.headers) == "table" and req.headers or nil
  local prepare = poll.SESSION and req[poll.SESSION]
  if prepare then
    local h = {}
    for k, v in pairs(headers or {}) do h[k] = v end
    if pcall(prepare, to or url, h) then
      headers = h
    end
  end
  return {url = url, headers = headers,
          body = type(body) == "string" and body or nil}
end

-- The policy of each poll, as a call resolves retry= (nil: the call's
-- own choice, inside a policy(fn) wrapper).
local function poll_policy(r, wrapped)
  if r == nil then
    return not wrapped and retry.default or nil
  elseif r == false then
    return retry.none
  elseif type(r) == "table" and not retry.is_policy(r) then
    return retry.default:extend(r)
  end
  return r                  -- a policy, or what the call will refuse
end

-- The waits between polls: fn(n, prev) is the wait after the n-th poll.
local function schedule(opts)
  local every, backoff = opts.every, opts.backoff
  check_seconds("every", every, MIN_WAIT)
  if backoff == nil then
    every = every or EVERY
    return function() return every end
  end
  if every ~= nil then
    fail("give every or backoff, not both")
  elseif type(backoff) ~= "table" then
    fail(("backoff must be a table like {initial = 1, factor = 2, max = "
          .. "30, jitter = \"none\"} (got %s)"):format(show(backoff)))
  end
  local b = {initial = EVERY, factor = 2, max = 30, jitter = "none"}
  for k, v in pairs(backoff) do b[k] = v end
  local p = retry.policy{backoff = b}
  return function(n, prev)
    local d = p:delay(n, prev)
    return d > MIN_WAIT and d or MIN_WAIT
  end
end

-- Seconds as a message shows them: 0.25, 12.3, 600.
local function seconds(x)
  return x >= 100 and ("%.0f"):format(x) or ("%.3g"):format(x)
end

-- Raises (or returns nil, err when the policy says raise = false) a
-- PollError.
local function poll_error(raise, fields)
  fields.traceback = debug.traceback(nil, 3)
  local err = setmetatable(fields, PollError)
  if raise then
    error(err, 0)
  end
  return nil, err
end

--- Polls url until `ready(resp)` says the answer is ready. Each poll is
-- one call (a GET unless `method` says otherwise) under the retry policy;
-- a poll that is not ready waits `every` seconds (or the `backoff`
-- schedule) and polls again, until the deadline.
-- @tparam string url
-- @tparam table opts `ready` (required): `function(resp)` returning true
--   (ready: the poll returns resp), false or nil (not yet; `false, note`
--   shows the note in the -v line), or `nil, reason` (stop at once: a
--   terminal state; raises with reason); `every` (seconds, 1 by
--   default) or `backoff` (`{initial, factor, max, jitter}` over
--   `{1, 2, 30, "none"}`); `deadline` (seconds, 300 by default): no poll
--   starts, and no wait runs, past it; and any request option, used on
--   every poll
-- @tparam[opt] function request makes one call from request options (for
--   a module with calls of its own; http.request if absent)
-- @return the ready Response, with `polls` (how many were made) and
--   `poll_elapsed` (seconds since the first began)
-- @raise a PollError (`reason` "deadline", "stopped" or "error"), a
--   poll's give-up, or a bad option at the script's line; with a policy's
--   `raise = false`, returns nil and the error instead
function poll.poll(url, opts, request)
  check.argtype(2, "poll", opts, "table")
  local ready = opts.ready
  if type(ready) ~= "function" then
    fail(("http.poll needs ready = function(resp) returning true, false or "
          .. "nil, reason (got %s)"):format(show(ready)))
  end
  check_seconds("deadline", opts.deadline, 0.001)
  local wait_after = schedule(opts)
  local req = request_options("http.poll", opts, POLL_OPTIONS, poll.OPTIONS)
  req.method, req.url = req.method or "GET", url
  local wrapped = core.in_wrapper()
  local policy = poll_policy(req.retry, wrapped)
  local raise = not (retry.is_policy(policy) and policy.raise == false)
  local limit = opts.deadline or DEADLINE
  if wrapped and wrapped < limit then
    limit = math.max(wrapped, 0)
  end
  local started, n, prev, last = now(), 0, nil, nil
  local end_at = started + limit
  local secrets = secrets_of(url, req)
  local what = redact(req.method .. " " .. url, secrets)
  -- the PollError of how polling ended, raised (or returned)
  local function failed(reason, message, more)
    more = more or {}
    more.message = redact(what .. " " .. message, secrets)
    more.reason, more.polls, more.response = reason, n, last
    more.elapsed = now() - started
    more.request = {method = req.method, url = redact(url, secrets)}
    return poll_error(raise, more)
  end
  local function out_of_time(cause)
    return failed("deadline", ("not ready after %d poll%s in %s s "
                  .. "(deadline %s s%s)"):format(n, n == 1 and "" or "s",
                  seconds(now() - started), seconds(limit), cause or last
                  and (", last status %d"):format(last.status) or ""))
  end
  while true do
    -- a poll's retries end at the polling's deadline too
    -- (a give-up then comes back as a value, to be told apart)
    local p, left = policy, end_at - now()
    local capped = retry.is_policy(p) and left < (p.deadline or CALL_DEADLINE)
    if capped then
      p = p:extend{deadline = left > 0.001 and left or 0.001, raise = false}
    end
    req.retry = p
    local resp, err = (request or poll.request)(req)
    if not resp then
      if capped and err.reason == "deadline" then
        return out_of_time((": poll %d ran out of time: %s")
                           :format(n + 1, err.message))
      elseif capped and raise then
        err.traceback = debug.traceback(nil, 2)   -- as a raised one has
        error(err, 0)
      end
      return nil, err
    end
    n, last = n + 1, resp
    secrets = secrets_of(url, req)
    local ok, verdict, why = pcall(ready, resp)
    if not ok then
      note_poll(resp, n, "error", nil, nil, secrets)
      return failed("error", ("failed: ready() raised at poll %d: %s")
                    :format(n, type(verdict) == "string" and verdict or
                            type(verdict) == "table" and
                            tostring(verdict.message) or show(verdict)),
                    {cause = verdict})
    elseif verdict then
      note_poll(resp, n, "ready", nil, nil, secrets)
      resp.polls, resp.poll_elapsed = n, now() - started
      return resp
    elseif verdict == nil and why ~= nil then
      why = redact(tostring(why), secrets)
      note_poll(resp, n, "stopped", nil, why, secrets)
      return failed("stopped", ("stopped at poll %d: %s"):format(n, why),
                    {detail = why})
    end
    local wait = wait_after(n, prev)
    prev = wait
    -- no wait starts unless a poll has time after it
    if now() + wait + MIN_POLL > end_at then
      note_poll(resp, n, "deadline", nil, nil, secrets)
      return out_of_time()
    end
    note_poll(resp, n, "not_ready", wait, why ~= nil and
              redact(tostring(why), secrets) or nil, secrets)
    sleep(wait)
  end
end

--- Reads a list page by page: an iterator over the responses, for
-- `for resp in http.pages(url, opts) do ... end`. The next page is the
-- one the response's `Link` header names rel="next", or what
-- `opts.next(resp)` returns (a URL, relative to the page's, or nil at
-- the end). Each page is a call under the retry policy.
-- @tparam string url the first page (opts.query is added to it alone)
-- @tparam[opt] table opts `next`, `max_pages` (10000 by default), and any
--   request option; `expect` is "2xx" unless given
-- @tparam[opt] function request as for poll.poll
-- @return the iterator; each Response has `page` (1 for the first)
-- @raise at the script's line on a bad option; while iterating, when a
--   page links to one already read (a loop), past max_pages, when next()
--   raises or returns something else than a string or nil, and on a
--   page's give-up (even with raise = false: a for loop cannot tell an
--   end from a failure)
function poll.pages(url, opts, request)
  check.argtype(2, "pages", opts, "table", true)
  opts = opts or {}
  local next_of, max = opts.next, opts.max_pages or MAX_PAGES
  if next_of ~= nil and type(next_of) ~= "function" then
    fail(("next must be a function(resp) returning a URL or nil (got %s)")
         :format(show(next_of)))
  end
  if not (math.type(max) and max == math.floor(max) and max >= 1) then
    fail(("max_pages must be a whole number >= 1 (got %s)"):format(
         show(max)))
  end
  local req = request_options("http.pages", opts, PAGES_OPTIONS,
                              poll.OPTIONS)
  req.method = req.method or "GET"
  if req.expect == nil then
    req.expect = "2xx"
  end
  local secrets = secrets_of(url, req)
  -- a page of another origin gets no credential header: its URL is the
  -- server's word, as a redirect's is
  local origin, headers = core.url_origin(url), req.headers
  local foreign = headers
  if type(headers) == "table" then
    foreign = {}
    for k, v in pairs(headers) do
      if type(k) ~= "string" or not (core.secret_header(k) or
                                     k:lower() == "host") then
        foreign[k] = v
      end
    end
  end
  local seen, pending, n, looped = {}, url, 0, nil
  return function()
    if not pending then
      return nil
    end
    local u = pending
    pending = nil
    if looped then
      fail(looped)
    elseif n >= max then
      fail(redact(("http.pages: more than max_pages (%d) pages: stopped "
                   .. "before %s"):format(max, u), secrets))
    end
    n = n + 1
    req.url = u
    req.headers = core.url_origin(u) == origin and headers or foreign
    if n == 2 then
      req.query = nil       -- the links carry their own query
    end
    local resp, err = (request or poll.request)(req)
    if not resp then
      error(err, 0)
    end
    resp.page = n
    secrets = secrets_of(url, req, u)
    seen[u], seen[resp.url] = seen[u] or n, seen[resp.url] or n
    local target
    if next_of then
      local ok, v = pcall(next_of, resp)
      if not ok then
        fail(redact(("http.pages: next() raised at page %d: %s"):format(n,
             type(v) == "string" and v or show(v)), secrets))
      elseif v ~= nil and type(v) ~= "string" then
        fail(("http.pages: next() must return a URL (a string) or nil "
              .. "(got %s at page %d)"):format(show(v), n))
      end
      target = v and links.resolve(resp.url, v)
    else
      local link = links.parse(resp.headers.link, resp.url).next
      target = link and link.url
    end
    if target and seen[target] then
      -- raised when the next page is asked for: this one is good
      looped = redact(("http.pages: page %d links to %s, which was page %d: "
                       .. "stopped (a loop)"):format(n, target,
                                                     seen[target]), secrets)
    end
    pending = target
    return resp
  end
end

--- The links of a response's `Link` headers (retryrun.links.parse), their
-- URLs resolved against the response's URL: `resp:links().next.url`.
local function response_links(resp)
  local ok, value = pcall(function() return resp.headers.link end)
  return links.parse(ok and value or nil, resp.url)
end

--- True when err was raised by http.poll.
function poll.is_poll_error(err)
  return getmetatable(err) == PollError
end

poll.PollError = PollError

--- Adds poll, pages, parse_links, is_poll_error and PollError to the
-- http module, and links to every Response.
-- @param http retryrun.http
-- @param options the request options http knows (its table, shared)
-- @param session_key the key a session's calls carry it under, passed on
--   to every poll and page as it is
function poll.install(http, options, session_key)
  poll.OPTIONS, poll.request, poll.SESSION = options, http.request,
                                              session_key
  core.response_methods.links = response_links
  http.poll = function(url, opts)
    local resp, err = poll.poll(url, opts)
    return resp, err
  end
  http.pages = function(url, opts)
    local iter = poll.pages(url, opts)
    return iter
  end
  http.parse_links = links.parse
  http.is_poll_error = poll.is_poll_error
  http.PollError = PollError
end

return poll
