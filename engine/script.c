#include "engine/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/reply.h"
#include "engine/sha1.h"

/* Chunk name of every script: errors read "user_script:1: ..." and the
 * script suffix "on @user_script:1.", as in Redis 7.0. */
#define SCRIPT_CHUNK "@user_script"
/* Instructions between two looks at the clock. */
#define SCRIPT_HOOK_COUNT 100000
/* Registry keys of the tables sha -> compiled function and sha -> flags. */
#define SCRIPT_REG_FUNCS "memkv_scripts"
#define SCRIPT_REG_FLAGS "memkv_script_flags"

struct script_vm {
    lua_State *L;          /* owner: the VM's thread */
    const script_run *run; /* the run in progress, or NULL */
    unsigned flags;        /* its enum script_flag */
    int64_t deadline_us;   /* kv_mono_us() after which the run is stopped; 0: none */
    int64_t busy_us;       /* kv_mono_us() after which the hook calls run->busy */
    const char *stopping;  /* the run is being stopped, with this error */
    kvbuf args;            /* scratch: redis.call's arguments, copied */
    kvbuf reply;           /* scratch: the reply of redis.call's command */
    kv_str *argv;          /* scratch: argument array of redis.call */
    int argv_cap;
};

/* The VM of a C function registered with it as upvalue 1. */
static script_vm *vm_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- errors ----------------------------------------------------------- */

/* Pushes Redis's error table {err = "CODE message"} for msg, which may
 * start with '-' and end with CRLF (a command's error reply) or be a bare
 * message (then the code is ERR). */
static void push_error_table(lua_State *L, const char *msg, size_t len)
{
    while (len > 0 && (msg[len - 1] == '\r' || msg[len - 1] == '\n')) len--;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (len > 0 && msg[0] == '-') {
        msg++;
        len--;
        if (memchr(msg, ' ', len) == NULL) luaL_addstring(&b, "ERR ");
    } else {
        luaL_addstring(&b, "ERR ");
    }
    luaL_addlstring(&b, msg, len);
    lua_newtable(L);
    lua_pushliteral(L, "err");
    luaL_pushresult(&b);
    lua_rawset(L, -3);
}

/* Raises Redis's error table for msg (never returns). */
static int raise_error(lua_State *L, const char *msg)
{
    push_error_table(L, msg, strlen(msg));
    return lua_error(L);
}

/* The message handler of a run: turns the error value into a table
 * {err=, source=, line=} naming where in the script it was raised (the
 * caller of a C function such as error or redis.call). */
static int vm_error_handler(lua_State *L)
{
    if (!lua_istable(L, 1)) {
        const char *s = lua_tostring(L, 1);
        lua_pushfstring(L, "ERR %s", s ? s : "(error object is not a string)");
        lua_newtable(L);
        lua_pushliteral(L, "err");
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    lua_Debug ar;
    int level = 1;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && strcmp(ar.what, "C") == 0)
        level++;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar)) {
        lua_pushliteral(L, "source");
        lua_pushstring(L, ar.source);
        lua_rawset(L, 1);
        lua_pushliteral(L, "line");
        lua_pushinteger(L, ar.currentline);
        lua_rawset(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

/* ---- RESP -> Lua ------------------------------------------------------ */

/* Reads the decimal number after p[0] up to CRLF; *next after the CRLF. */
static long long resp_number(const char *p, const char **next)
{
    char *end;
    long long v = strtoll(p + 1, &end, 10);
    *next = end + 2;
    return v;
}

/* Pushes the RESP2 element at p (a whole reply made by the engine) as a
 * Lua value, by Redis's rules; returns the position after it. */
static const char *resp_to_lua(lua_State *L, const char *p)
{
    const char *next;
    const char *eol;
    luaL_checkstack(L, 4, "reached lua stack limit");
    switch (p[0]) {
    case ':':
        lua_pushnumber(L, (lua_Number)resp_number(p, &next));
        return next;
    case '$': {
        long long n = resp_number(p, &next);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_pushlstring(L, next, (size_t)n);
        return next + n + 2;
    }
    case '*': {
        long long n = resp_number(p, &next);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
        for (long long i = 1; i <= n; i++) {
            next = resp_to_lua(L, next);
            lua_rawseti(L, -2, (int)i);
        }
        return next;
    }
    case '+':
        eol = strstr(p, "\r\n");
        lua_newtable(L);
        lua_pushliteral(L, "ok");
        lua_pushlstring(L, p + 1, (size_t)(eol - p - 1));
        lua_rawset(L, -3);
        return eol + 2;
    case '-':
        eol = strstr(p, "\r\n");
        push_error_table(L, p, (size_t)(eol - p));
        return eol + 2;
    }
    lua_pushboolean(L, 0); /* not RESP2: cannot come from the engine */
    return p + strlen(p);
}

/* ---- Lua -> RESP ------------------------------------------------------ */

/* The string field `name` of the table at the top, or NULL (pushes nothing). */
static const char *table_field(lua_State *L, const char *name, size_t *len)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1); /* the string stays alive: the table holds it */
    return s;
}

/* Appends "-msg\r\n" or "+msg\r\n" with CR and LF turned into spaces. */
static void reply_line(kvbuf *out, char type, const char *s, size_t len)
{
    char *p = kvbuf_reserve(out, len + 3);
    p[0] = type;
    for (size_t i = 0; i < len; i++) p[i + 1] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    out->len += len + 3;
}

/* Converts the value at the top of the stack into RESP2 by Redis's rules
 * and pops it. */
static void lua_to_resp(lua_State *L, kvbuf *out)
{
    if (!lua_checkstack(L, 4)) {
        reply_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    size_t len;
    const char *s;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        reply_bulk(out, s, len);
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1))
            reply_int(out, 1);
        else
            reply_nil(out);
        break;
    case LUA_TNUMBER: {
        /* truncated; out of range (and NaN) gives INT64_MIN, as Redis's
         * (long long) cast does on x86-64 */
        double d = lua_tonumber(L, -1);
        int ok = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
        reply_int(out, ok ? (int64_t)d : INT64_MIN);
        break;
    }
    case LUA_TTABLE:
        if ((s = table_field(L, "err", &len)) != NULL) {
            reply_line(out, '-', s, len);
            break;
        }
        if ((s = table_field(L, "ok", &len)) != NULL) {
            reply_line(out, '+', s, len);
            break;
        }
        lua_pushliteral(L, "double");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            char num[64];
            reply_bulk(out, num, (size_t)snprintf(num, sizeof num, "%.17g", lua_tonumber(L, -1)));
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        {
            /* an array up to the first nil; the count is patched in after */
            size_t at = out->len;
            kvbuf_append(out, "*00000000000000000000\r\n", 23);
            int64_t n = 0;
            for (;;) {
                lua_rawgeti(L, -1, (int)(n + 1));
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                lua_to_resp(L, out);
                n++;
            }
            char hdr[24];
            int h = snprintf(hdr, sizeof hdr, "*%lld\r\n", (long long)n);
            memmove(out->data + at + h, out->data + at + 23, out->len - at - 23);
            memcpy(out->data + at, hdr, (size_t)h);
            out->len -= (size_t)(23 - h);
        }
        break;
    default:
        reply_nil(out);
    }
    lua_pop(L, 1);
}

/* ---- redis.* ---------------------------------------------------------- */

/* Copies the Lua arguments 1..argc into vm->args/argv as Redis does
 * (numbers as "%.17g"). Returns 0, or -1 (an argument is not a string
 * or number). */
static int call_args(lua_State *L, script_vm *vm, int argc)
{
    if (argc > vm->argv_cap) {
        vm->argv_cap = argc * 2;
        vm->argv = kv_xrealloc(vm->argv, (size_t)vm->argv_cap * sizeof *vm->argv);
    }
    kvbuf_reset(&vm->args);
    for (int i = 0; i < argc; i++) {
        char num[64];
        size_t len;
        const char *s;
        if (lua_type(L, i + 1) == LUA_TNUMBER) {
            len = (size_t)snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, i + 1));
            s = num;
        } else if (lua_type(L, i + 1) == LUA_TSTRING) {
            s = lua_tolstring(L, i + 1, &len);
        } else {
            return -1;
        }
        /* an offset for now: args may move while it grows */
        vm->argv[i].p = (const char *)(uintptr_t)vm->args.len;
        vm->argv[i].len = len;
        kvbuf_append(&vm->args, s, len);
        kvbuf_append(&vm->args, "", 1); /* NUL after each, as the network side's copies */
    }
    for (int i = 0; i < argc; i++) vm->argv[i].p = vm->args.data + (uintptr_t)vm->argv[i].p;
    return 0;
}

/* redis.call (raise = 1) and redis.pcall (raise = 0). */
static int redis_generic_call(lua_State *L, int raise)
{
    script_vm *vm = vm_of(L);
    int argc = lua_gettop(L);
    if (vm->run == NULL)
        return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    const char *err = NULL;
    if (argc == 0)
        err = "Please specify at least one argument for this redis lib call";
    else if (call_args(L, vm, argc) != 0)
        err = "Lua redis lib command arguments must be strings or integers";
    if (err != NULL) {
        push_error_table(L, err, strlen(err));
        return raise ? lua_error(L) : 1;
    }
    kvbuf_reset(&vm->reply);
    vm->run->call(vm->run->ctx, vm->flags, argc, vm->argv, &vm->reply);
    kvbuf_append(&vm->reply, "", 1); /* NUL: the parser's strstr stops there */
    lua_settop(L, 0);
    resp_to_lua(L, vm->reply.data);
    if (raise && vm->reply.data[0] == '-') return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L)
{
    return redis_generic_call(L, 1);
}

static int redis_pcall(lua_State *L)
{
    return redis_generic_call(L, 0);
}

/* Lua's pcall, except that an error table {err=...} comes back as its
 * message (Redis 7.0 keeps older scripts' pcall(redis.call, ...) working). */
static int vm_pcall(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) == 0) return lua_gettop(L);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        if (lua_isstring(L, -1))
            lua_replace(L, -2);
        else
            lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    lua_replace(L, 1);
    lua_settop(L, 2);
    return 2;
}

/* redis.error_reply(msg): {err = msg} with an ERR code if msg has none. */
static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-') {
        push_error_table(L, s, len);
    } else {
        lua_pushfstring(L, "-%s", s);
        s = lua_tolstring(L, -1, &len);
        push_error_table(L, s, len);
    }
    return 1;
}

/* redis.status_reply(msg): {ok = msg}. */
static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushliteral(L, "ok");
    lua_pushvalue(L, 1);
    lua_rawset(L, -3);
    return 1;
}

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) return raise_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* redis.log(level, ...): to the server log; LOG_DEBUG and LOG_VERBOSE
 * lines are dropped (mem-kv logs notices and warnings). */
enum { LOG_DEBUG, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return raise_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) return raise_error(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (s == NULL) continue;
        if (i > 2) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    const char *msg = lua_tostring(L, -1);
    if (level == LOG_WARNING)
        kv_log_warn("script: %s", msg);
    else if (level == LOG_NOTICE)
        kv_log("script: %s", msg);
    return 0;
}

static int redis_setresp(lua_State *L)
{
    int v = (int)luaL_optnumber(L, 1, 0);
    if (lua_gettop(L) != 1) return raise_error(L, "redis.setresp() requires one argument.");
    if (v == 3) return raise_error(L, "RESP3 is not supported by mem-kv scripts");
    if (v != 2) return raise_error(L, "RESP version must be 2 or 3.");
    return 0;
}

static int redis_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_nothing(lua_State *L)
{
    return 0;
}

/* ---- the environment -------------------------------------------------- */

static void set_number(lua_State *L, const char *name, int v)
{
    lua_pushstring(L, name);
    lua_pushnumber(L, v);
    lua_rawset(L, -3);
}

/* The redis table, its functions carrying vm as upvalue. */
static void vm_open_redis(lua_State *L, script_vm *vm)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {{"call", redis_call},
               {"pcall", redis_pcall},
               {"error_reply", redis_error_reply},
               {"status_reply", redis_status_reply},
               {"sha1hex", redis_sha1hex},
               {"log", redis_log},
               {"setresp", redis_setresp},
               {"replicate_commands", redis_true},
               {"set_repl", redis_nothing},
               {"breakpoint", redis_false},
               {"debug", redis_nothing}};
    lua_newtable(L);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushstring(L, fns[i].name);
        lua_pushlightuserdata(L, vm);
        lua_pushcclosure(L, fns[i].fn, 1);
        lua_rawset(L, -3);
    }
    set_number(L, "LOG_DEBUG", LOG_DEBUG);
    set_number(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_number(L, "LOG_NOTICE", LOG_NOTICE);
    set_number(L, "LOG_WARNING", LOG_WARNING);
    set_number(L, "REPL_NONE", 0);
    set_number(L, "REPL_AOF", 1);
    set_number(L, "REPL_SLAVE", 2);
    set_number(L, "REPL_REPLICA", 2);
    set_number(L, "REPL_ALL", 3);
    lua_setglobal(L, "redis");
}

/* Reading a global that does not exist, or setting any global, is an error
 * (Redis 7.0: "Script attempted to access nonexistent global variable",
 * "Attempt to modify a readonly table"). */
static int vm_global_index(lua_State *L)
{
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      luaL_optstring(L, 2, "?"));
}

static int vm_global_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Library tables are read-only too: each global library becomes an empty
 * proxy reading through to it (pairs() over a library sees nothing). */
static void vm_protect_library(lua_State *L, const char *name)
{
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_getglobal(L, name);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, vm_global_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setglobal(L, name);
}

static void vm_protect_globals(lua_State *L)
{
    static const char *const libs[] = {"redis", "string", "math", "table", "coroutine"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) vm_protect_library(L, libs[i]);
    lua_newtable(L);
    lua_pushcfunction(L, vm_global_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, vm_global_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* getmetatable(_G) cannot reach it */
    lua_setmetatable(L, LUA_GLOBALSINDEX);
}

/* The libraries a script sees: base (less file access, print, setfenv),
 * table, string, math; as Redis, no io, os, package or debug. */
static void vm_open_libs(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {{"", luaopen_base},
                {LUA_TABLIBNAME, luaopen_table},
                {LUA_STRLIBNAME, luaopen_string},
                {LUA_MATHLIBNAME, luaopen_math}};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i].open);
        lua_pushstring(L, libs[i].name);
        lua_call(L, 1, 0);
    }
    static const char *const drop[] = {"dofile", "loadfile", "print", "setfenv", "newproxy"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
}

/* Lua's allocator; its user data is the VM (the count hook finds it so). */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static int vm_panic(lua_State *L)
{
    kv_log_warn("unprotected error in a Lua script: %s", lua_tostring(L, -1));
    abort();
}

script_vm *script_vm_new(void)
{
    script_vm *vm = kv_xcalloc(1, sizeof *vm);
    vm->L = lua_newstate(vm_alloc, vm);
    if (vm->L == NULL) {
        free(vm);
        return NULL;
    }
    lua_State *L = vm->L;
    lua_atpanic(L, vm_panic);
    vm_open_libs(L);
    vm_open_redis(L, vm);
    lua_pushcfunction(L, vm_pcall);
    lua_setglobal(L, "pcall");
    lua_pushliteral(L, SCRIPT_REG_FUNCS);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, SCRIPT_REG_FLAGS);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    vm_protect_globals(L);
    kvbuf_init(&vm->args);
    kvbuf_init(&vm->reply);
    return vm;
}

void script_vm_free(script_vm *vm)
{
    if (vm == NULL) return;
    if (vm->L) lua_close(vm->L);
    kvbuf_destroy(&vm->args);
    kvbuf_destroy(&vm->reply);
    free(vm->argv);
    free(vm);
}

/* ---- compiling -------------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int script_shebang(const char *body, size_t len, unsigned *flags, kvbuf *err)
{
    *flags = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *end = memchr(body, '\n', len);
    if (end == NULL) {
        kvbuf_append_str(err, "ERR Invalid script shebang");
        return -1;
    }
    *flags = SCRIPT_FLAG_SHEBANG;
    const char *p = body;
    int first = 1;
    while (p < end) {
        while (p < end && is_space(*p)) p++;
        const char *w = p;
        while (p < end && !is_space(*p)) p++;
        size_t n = (size_t)(p - w);
        if (n == 0) break;
        if (first) {
            if (n != 5 || memcmp(w, "#!lua", 5) != 0) {
                kvbuf_printf(err, "ERR Unexpected engine in script shebang: %.*s", (int)n, w);
                return -1;
            }
            first = 0;
            continue;
        }
        if (n < 6 || memcmp(w, "flags=", 6) != 0) {
            kvbuf_printf(err, "ERR Unknown lua shebang option: %.*s", (int)n, w);
            return -1;
        }
        static const char *const known[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                            "allow-cross-slot-keys"};
        for (const char *f = w + 6; f <= w + n;) {
            const char *comma = memchr(f, ',', (size_t)(w + n - f));
            size_t fl = comma ? (size_t)(comma - f) : (size_t)(w + n - f);
            size_t k = 0;
            while (k < sizeof known / sizeof known[0] &&
                   !(strlen(known[k]) == fl && memcmp(known[k], f, fl) == 0))
                k++;
            if (k == sizeof known / sizeof known[0]) {
                kvbuf_printf(err, "ERR Unexpected flag in script shebang: %.*s", (int)fl, f);
                return -1;
            }
            if (k == 0) *flags |= SCRIPT_FLAG_NO_WRITES;
            if (comma == NULL) break;
            f = comma + 1;
        }
    }
    return 0;
}

/* Compiles body on L: pushes the function and returns 0, or appends the
 * error text to err and returns -1. The shebang line is skipped but its
 * newline kept, so line numbers stay the user's. */
static int vm_compile(lua_State *L, const char *body, size_t len, unsigned *flagsp, kvbuf *err)
{
    unsigned flags;
    if (script_shebang(body, len, &flags, err) != 0) return -1;
    *flagsp = flags;
    size_t skip = 0;
    if (flags & SCRIPT_FLAG_SHEBANG) skip = (size_t)((const char *)memchr(body, '\n', len) - body);
    if (luaL_loadbuffer(L, body + skip, len - skip, SCRIPT_CHUNK) == 0) return 0;
    const char *msg = lua_tostring(L, -1);
    size_t at = err->len;
    kvbuf_printf(err, "ERR Error compiling script (new function): %s", msg ? msg : "?");
    for (size_t i = at; i < err->len; i++)
        if (err->data[i] == '\r' || err->data[i] == '\n') err->data[i] = ' ';
    lua_pop(L, 1);
    return -1;
}

int script_compile_check(const char *body, size_t len, kvbuf *err)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        kvbuf_append_str(err, "ERR out of memory compiling the script");
        return -1;
    }
    unsigned flags;
    int r = vm_compile(L, body, len, &flags, err);
    lua_close(L);
    return r;
}

/* The flags of sha as compiled (0 if unknown). */
static unsigned vm_flags_get(lua_State *L, const char *sha)
{
    lua_pushliteral(L, SCRIPT_REG_FLAGS);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlstring(L, sha, 40);
    lua_rawget(L, -2);
    unsigned flags = (unsigned)lua_tonumber(L, -1);
    lua_pop(L, 2);
    return flags;
}

static void vm_flags_set(lua_State *L, const char *sha, unsigned flags)
{
    lua_pushliteral(L, SCRIPT_REG_FLAGS);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlstring(L, sha, 40);
    lua_pushnumber(L, flags);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Pushes the compiled function sha, compiling body first when needed, and
 * sets vm->flags. Returns 0, SCRIPT_NOSCRIPT, or 1 after appending a
 * compile error to out (nothing pushed then). */
static int vm_function(script_vm *vm, const script_run *r)
{
    lua_State *L = vm->L;
    lua_pushliteral(L, SCRIPT_REG_FUNCS);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlstring(L, r->sha, 40);
    lua_rawget(L, -2);
    if (lua_isfunction(L, -1)) {
        lua_remove(L, -2);
        vm->flags = vm_flags_get(L, r->sha);
        return 0;
    }
    lua_pop(L, 1);
    if (r->body == NULL) {
        lua_pop(L, 1);
        return SCRIPT_NOSCRIPT;
    }
    kvbuf err;
    kvbuf_init(&err);
    if (vm_compile(L, r->body, r->body_len, &vm->flags, &err) != 0) {
        lua_pop(L, 1);
        reply_line(r->out, '-', err.data, err.len);
        kvbuf_destroy(&err);
        return 1;
    }
    kvbuf_destroy(&err);
    lua_pushlstring(L, r->sha, 40);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4); /* funcs[sha] = function */
    lua_remove(L, -2);
    vm_flags_set(L, r->sha, vm->flags);
    return 0;
}

/* ---- running ---------------------------------------------------------- */

/* Every SCRIPT_HOOK_COUNT instructions: lets the thread serve its sockets
 * once the run is busy (run->busy, which may set *kill); past the deadline
 * or when killed, raises an error, and again at every line after that (a
 * script's own pcall must not swallow it). */
static void vm_hook(lua_State *L, lua_Debug *ar)
{
    void *ud;
    lua_getallocf(L, &ud);
    script_vm *vm = ud;
    const script_run *r = vm->run;
    if (!vm->stopping) {
        if (r->busy && kv_mono_us() >= vm->busy_us) r->busy(r->busy_ctx);
        if (r->kill && atomic_load_explicit(r->kill, memory_order_relaxed))
            vm->stopping = "Script killed by user with SCRIPT KILL...";
        else if (vm->deadline_us && kv_mono_us() >= vm->deadline_us)
            vm->stopping = "Script killed: it ran longer than lua-time-limit";
        if (!vm->stopping) return;
        lua_sethook(L, vm_hook, LUA_MASKLINE, 0);
    }
    raise_error(L, vm->stopping);
}

/* Sets KEYS and ARGV (raw: the globals are protected). */
static void vm_set_array(lua_State *L, const char *name, const kv_str *v, int n)
{
    lua_pushstring(L, name);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].p, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_rawset(L, LUA_GLOBALSINDEX);
}

/* Appends the reply for the error table at the top of the stack:
 * "-<err> script: <sha>, on <source>:<line>." as Redis 7.0. */
static void vm_error_reply(lua_State *L, const script_run *r)
{
    if (!lua_istable(L, -1)) {
        const char *s = lua_tostring(L, -1);
        kvbuf msg;
        kvbuf_init(&msg);
        kvbuf_printf(&msg, "ERR Error running script %.40s, %.100s", r->sha,
                     s ? s : "execution failure");
        reply_line(r->out, '-', msg.data, msg.len);
        kvbuf_destroy(&msg);
        return;
    }
    size_t elen = 0, slen = 0;
    const char *e = table_field(L, "err", &elen);
    const char *src = table_field(L, "source", &slen);
    lua_pushliteral(L, "line");
    lua_rawget(L, -2);
    int has_line = lua_isnumber(L, -1);
    long line = (long)lua_tonumber(L, -1);
    lua_pop(L, 1);
    kvbuf msg;
    kvbuf_init(&msg);
    if (e)
        kvbuf_append(&msg, e, elen);
    else
        kvbuf_append_str(&msg, "ERR unknown error");
    if (src && has_line)
        kvbuf_printf(&msg, " script: %.40s, on %.*s:%ld.", r->sha, (int)slen, src, line);
    reply_line(r->out, '-', msg.data, msg.len);
    kvbuf_destroy(&msg);
}

int script_vm_run(script_vm *vm, const script_run *r)
{
    lua_State *L = vm->L;
    int base = lua_gettop(L);
    lua_pushcfunction(L, vm_error_handler);
    int got = vm_function(vm, r);
    if (got != 0) {
        lua_settop(L, base);
        return got == SCRIPT_NOSCRIPT ? SCRIPT_NOSCRIPT : SCRIPT_OK;
    }
    vm_set_array(L, "KEYS", r->keys, r->nkeys);
    vm_set_array(L, "ARGV", r->args, r->nargs);
    vm->run = r;
    vm->stopping = NULL;
    vm->deadline_us = r->time_limit_ms > 0 ? kv_mono_us() + r->time_limit_ms * 1000 : 0;
    vm->busy_us = kv_mono_us() + r->busy_after_ms * 1000;
    if (vm->deadline_us || r->kill || r->busy)
        lua_sethook(L, vm_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    if (lua_pcall(L, 0, 1, base + 1) != 0)
        vm_error_reply(L, r);
    else
        lua_to_resp(L, r->out);
    lua_sethook(L, NULL, 0, 0);
    vm->run = NULL;
    lua_settop(L, base);
    /* Redis collects after every script: keeps the state small */
    lua_gc(L, LUA_GCSTEP, 1);
    return SCRIPT_OK;
}
