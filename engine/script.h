/* script.h - Lua 5.1 scripts as Redis 7.0 runs them (EVAL, EVALSHA).
 *
 * A script_vm is one Lua state with Redis's environment: KEYS and ARGV,
 * redis.call / pcall / error_reply / status_reply / sha1hex / log, the
 * conversions between RESP replies and Lua values, globals protection
 * (reading an unset global or setting one is an error), and compiled
 * scripts kept by SHA1. It does not know shards or commands: redis.call
 * hands its arguments to the run's call function, which answers RESP.
 *
 * One VM per actor thread, created on first use; every function on a VM
 * is called by that thread only. script_compile_check and
 * script_shebang may be called by any thread.
 */
#ifndef MEMKV_SCRIPT_H
#define MEMKV_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/kv.h"

typedef struct script_vm script_vm;

/* Runs one command for redis.call/pcall: appends exactly one RESP2 reply to
 * out (an error reply "-..." when the command is refused or fails).
 * flags: the running script's enum script_flag. */
typedef void script_call_fn(void *ctx, unsigned flags, int argc, const kv_str *argv, kvbuf *out);

typedef struct script_run {
    const char *sha;  /* 40 lower-case hex digits naming the script */
    const char *body; /* its source, or NULL: run it only if compiled already */
    size_t body_len;
    const kv_str *keys; /* KEYS */
    int nkeys;
    const kv_str *args; /* ARGV */
    int nargs;
    script_call_fn *call; /* redis.call's executor */
    void *ctx;
    int64_t time_limit_ms; /* stop the script with an error after this; 0: never */
    _Atomic int *kill;     /* set by another thread to stop the script (SCRIPT KILL), or NULL */
    /* Called from the count hook, on the thread running the script, once the
     * run is busy_after_ms old (and at every hook after that): lets that
     * thread serve its sockets meanwhile (a hosted thread: SCRIPT KILL, BUSY
     * replies). It may set *kill. NULL: none. */
    void (*busy)(void *busy_ctx);
    void *busy_ctx;
    int64_t busy_after_ms;
    kvbuf *out; /* the script's RESP2 reply is appended here */
} script_run;

enum script_result {
    SCRIPT_OK = 0,        /* ran (its reply, perhaps an error, is in out) */
    SCRIPT_NOSCRIPT = -1, /* body NULL and sha not compiled: nothing appended */
};

/* Script flags from a "#!lua flags=..." first line (Redis 7.0 shebang). */
enum script_flag {
    SCRIPT_FLAG_SHEBANG = 1u << 0,  /* the script has a shebang line */
    SCRIPT_FLAG_NO_WRITES = 1u << 1 /* flags=no-writes: a read-only script */
};

/* The VM with no script compiled yet; NULL if Lua cannot allocate. */
script_vm *script_vm_new(void);
/* Frees the Lua state and everything compiled; accepts NULL. */
void script_vm_free(script_vm *vm);

/* Runs r: compiles r->body under r->sha first if the VM does not have it.
 * Returns SCRIPT_OK or SCRIPT_NOSCRIPT. A compile error is answered in out
 * (Redis's "ERR Error compiling script (new function): ..."). */
int script_vm_run(script_vm *vm, const script_run *r);

/* Compiles body in a scratch state: 0, or -1 with the error reply's text
 * (without '-' and CRLF) appended to err. Checks the shebang line too. */
int script_compile_check(const char *body, size_t len, kvbuf *err);

/* Parses the shebang line: returns 0 and sets *flags (0 without a
 * shebang), or -1 with Redis's error text appended to err. */
int script_shebang(const char *body, size_t len, unsigned *flags, kvbuf *err);

#endif
