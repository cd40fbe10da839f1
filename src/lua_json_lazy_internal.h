/*
 * lua_json_lazy_internal.h - what lua_json_lazy.c (a view's levels, made
 * when first reached) and lua_json_lazy_mt.c (the metatables of its
 * tables not yet whole) share.
 */
#ifndef RETRYRUN_LUA_JSON_LAZY_INTERNAL_H
#define RETRYRUN_LUA_JSON_LAZY_INTERNAL_H

#include <stddef.h>

#include <lua.h>

/* The state of a table not yet whole, kept under the table's private key
 * (lazy_state_key): this struct, in a full userdata whose user values are the
 * text (UV_TEXT, a string), for an object a table of the byte offset in
 * the text of each missing member, under its key (UV_KEYS), and, only
 * when the view was asked for one, what null reads as (UV_NULL). */
struct state {
  lua_Integer left;     /* members still to make; 0: none (being built) */
  lua_Integer n;        /* an array: the slots of at; an object: 0 */
  const char *text;     /* the bytes of UV_TEXT, which holds them */
  size_t len;
  int array;
  int depth;            /* the level's nesting: 0 for the text's own */
  int null;             /* 1: UV_NULL is set */
  const char *at[];     /* at[i - 1]: where element i's text starts, or
                           NULL (made, set by the script, or a scalar) */
};
#define UV_TEXT 1
#define UV_KEYS 2
#define UV_NULL 3

/* The private key of a table's state (its address). */
extern const char lazy_state_key;

/* Pushes the member whose text starts at p, in the text of the state s,
 * at si, a level made (or whole, deep down); mts as json_decode_lazy's.
 * Raises only out of memory, or for a number this locale cannot read. */
void lazy_make_member(lua_State *L, int si, const struct state *s,
                      const char *p, int mts);

/* The missing element i of the array at t, whose state s is at si, made
 * (mts as lazy_make_member's), put in place and forgotten; pushes it.
 * When making it ran a finalizer that read it (making allocates), the
 * element that one made stays, and is pushed. */
void lazy_place_element(lua_State *L, int t, int si, struct state *s,
                        lua_Integer i, int mts);

/* The same for the missing member of the object at t under the key at k,
 * whose text starts at p; offs: the state's table of offsets (UV_KEYS),
 * on the stack. t, k and offs are absolute indices. */
void lazy_place_member(lua_State *L, int t, int si, struct state *s,
                       int offs, int k, const char *p, int mts);

/* One missing member of the table at t was made or set: the count in its
 * state s goes down, and at 0 the table is whole: it loses its state and
 * gets the metatable json_decode gives it. */
void lazy_made_one(lua_State *L, int t, struct state *s);

/* Pushes the metatable of an array (array 1) or object not yet whole:
 * from the running C function's upvalue mts or mts + 1, or from the
 * registry when mts is 0. */
void lazy_push_mt(lua_State *L, int array, int mts);

#endif
