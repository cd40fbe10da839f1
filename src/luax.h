/*
 * luax.h - what every Lua binding of retryrun shares: the names of its
 * metatables, the protected-call helper and its traceback handler, type
 * tests that run no metamethod, raising at the script's line, and reading
 * fields of a script's tables.
 *
 * Uses only Lua's C API and lauxlib; knows nothing of HTTP, the loop or
 * policies. Every binding file (lua_*.c) includes it; it includes none of
 * them.
 */
#ifndef RETRYRUN_LUAX_H
#define RETRYRUN_LUAX_H

#include <lua.h>

/* Metatable names, as type errors show them. */
#define LUAX_CALL_MT     "retryrun.Call"
#define LUAX_POLICY_MT   "retryrun.Policy"
#define LUAX_RESPONSE_MT "retryrun.Response"
#define LUAX_HEADERS_MT  "retryrun.Headers"
#define LUAX_GIVEUP_MT   "retryrun.GiveUp"
#define LUAX_BOX_MT      "retryrun.Box"
#define LUAX_TASK_MT     "retryrun.Task"
#define LUAX_RECORD_MT   "retryrun.GiveUpRecord"
#define LUAX_JAR_MT      "retryrun.CookieJar"

/* Registry field: how the chunk names of retryrun's own Lua modules start
 * ("@<luadir>/retryrun/"), set by the host; luax_where skips them. */
#define LUAX_OURS "retryrun.ours"

/* Message handler for lua_pcall(k): a string error gets a traceback; a
 * table error gets a `traceback` field if it has none; another value is
 * shown by its __tostring or its type. */
int luax_traceback(lua_State *L);

/* Calls the function below nargs arguments under luax_traceback; like
 * lua_pcall, leaves nres results or one error value. */
int luax_pcall(lua_State *L, int nargs, int nres);

/* 1 when the value at idx is a table or userdata whose metatable is the
 * registry's `mt`. Runs no metamethod. */
int luax_is_a(lua_State *L, int idx, const char *mt);

/* The userdata at idx when its metatable is the table at mt (an absolute
 * or pseudo-index: an upvalue, a stack slot), else NULL: luaL_testudata
 * without looking the metatable up by name. Runs no metamethod. */
void *luax_testudata(lua_State *L, int idx, int mt, size_t size);

/* luaL_testudata and luaL_checkudata that also want the userdata's size:
 * the debug library can give any userdata a type's metatable, and one of
 * another size must not be read as that type. */
void *luax_testsized(lua_State *L, int idx, const char *tname, size_t size);
void *luax_checksized(lua_State *L, int idx, const char *tname, size_t size);

/* Pushes "file:line: " of the innermost Lua function running that is not
 * one of retryrun's own modules (the script's line), or "" when a C
 * function comes first. */
void luax_where(lua_State *L);

/* Raises msg (a constant or formatted string) at the script's line. */
int luax_error(lua_State *L, const char *fmt, ...);

/* Number field k of the table at t, or def when it is absent. */
double luax_field_number(lua_State *L, int t, const char *k, double def);

/* The keys C reads from request tables and writes to responses on every
 * call, each interned once: lua_getfield looks its C string up in Lua's
 * string table every time (about 120 instructions), a key taken from
 * this table by index costs a fifth of that. After the keys, the
 * metatables of the types made or checked on every call, which
 * luaL_setmetatable would look up by name; then slots a binding keeps a
 * value of its own in (nil at first): the URL lua_guard.c last found a
 * host's state for (runtime.h keeps its address and the state); the
 * Call of a call that ended, which lua_call.c makes the next one of, and the
 * request table of a plain one, which lua_plain.c fills again. */
enum luax_key {
  LUAX_K_METHOD = 1, LUAX_K_URL, LUAX_K_HEADERS, LUAX_K_BODY,
  LUAX_K_MULTIPART, LUAX_K_COMPRESSED, LUAX_K_CACERT, LUAX_K_INSECURE,
  LUAX_K_MAX_BODY, LUAX_K_TIMEOUT, LUAX_K_COOKIES, LUAX_K_REFRESH,
  LUAX_K_STATUS, LUAX_K_OK, LUAX_K_ELAPSED, LUAX_K_ATTEMPTS,
  LUAX_K_IDEMPOTENCY_KEY,
  LUAX_K_CALL_MT, LUAX_K_RESPONSE_MT, LUAX_K_POLICY_MT,
  LUAX_K_GUARD_URL, LUAX_K_SPARE_CALL, LUAX_K_SPARE_REQ,
  LUAX_K_LAST = LUAX_K_SPARE_REQ
};

/* Pushes the table of interned keys (made at the first use, which must
 * come after the metatables above are registered); returns its index,
 * for the functions below. A call keeps it at S_KEYS (lua_call.h). */
int luax_keys(lua_State *L);

/* Pushes key k from the keys table at index keys. */
#define luax_pushkey(L, keys, k) ((void)lua_rawgeti((L), (keys), (k)))

/* As lua_getfield(L, t, name of k), metamethods and all, for an absolute
 * index t; returns the type of the value pushed. */
#define luax_getkey(L, t, keys, k) \
  (luax_pushkey((L), (keys), (k)), lua_gettable((L), (t)))

/* Pushes s (n bytes) with its ASCII letters in lower case. */
void luax_push_lower(lua_State *L, const char *s, size_t n);

/* Creates metatable `name` (if new) with the functions of `meta` as its
 * fields and, when methods is not NULL, a table of them as __index.
 * Leaves the metatable on the stack. */
struct luaL_Reg;
void luax_newtype(lua_State *L, const char *name, const struct luaL_Reg *meta,
                  const struct luaL_Reg *methods);

#endif
