/* cmdtab.h - the command table: every command's name, arity, how it is
 * routed to shards and how its parts are joined, and its COMMAND/COMMAND
 * DOCS description. Constant data; any thread.
 */
#ifndef MEMKV_CMDTAB_H
#define MEMKV_CMDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "engine/cmd.h"

/* How a command reaches the keyspace. */
typedef enum cmd_route {
    ROUTE_LOCAL,  /* answered by the network thread (PING, CLIENT, ...) */
    ROUTE_KEY,    /* one key: argv[1] */
    ROUTE_KEYS,   /* every argument from argv[1] is a key (MGET, DEL) */
    ROUTE_PAIRS,  /* key value pairs from argv[1] (MSET) */
    ROUTE_ALL,    /* every shard (DBSIZE, KEYS, FLUSHALL, INFO) */
    ROUTE_SCAN,   /* the shard named by the cursor */
    ROUTE_RENAME, /* argv[1] and argv[2]: one shard, or staged across two */
    ROUTE_MSETNX, /* staged: check every shard, then set */
    ROUTE_SCRIPT, /* EVAL/EVALSHA: the actor of the declared keys (net/scripting.c) */
    ROUTE_MULTI,  /* MULTI, EXEC, DISCARD, WATCH, UNWATCH (net/multi.c) */
    ROUTE_TWO,    /* argv[1] and argv[2]: one shard, or both in one frozen run (LMOVE, SMOVE) */
    ROUTE_SETOP,  /* the set and sorted-set algebra, ZRANGESTORE, ZMPOP/LMPOP: one shard, or
                     one frozen run over their shards (net/xshard.c) */
    ROUTE_BLOCK,  /* BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN/MAX, BZMPOP, BLMPOP: may wait
                     for a push (net/blocking.c) */
} cmd_route;

/* How the parts' replies become the client's reply. */
typedef enum cmd_join {
    JOIN_SINGLE, /* the one part's reply as it is */
    JOIN_MGET,
    JOIN_SUM,
    JOIN_OK,
    JOIN_CONCAT,
    JOIN_RANDOM,
    JOIN_SCAN,
    JOIN_INFO,
    JOIN_STATS,
    JOIN_STAGED, /* decided by the staged command's own steps */
    JOIN_MULTI,  /* the transaction commands (net/multi.c) */
} cmd_join;

enum cmd_flag {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_FAST = 1u << 2,
    CMD_INTERNAL = 1u << 3, /* not callable by clients, not listed */
    CMD_NOSCRIPT = 1u << 4,
    CMD_LOADING = 1u << 5,
    CMD_STALE = 1u << 6,
    CMD_DENYOOM = 1u << 7,     /* may grow memory: refused or evicts first under --maxmemory */
    CMD_NO_AUTH = 1u << 8,     /* allowed before AUTH (AUTH, HELLO, QUIT) */
    CMD_TX_CONTROL = 1u << 9,  /* runs at once inside MULTI, never queued (MULTI, EXEC,
                                  DISCARD, WATCH, QUIT; not UNWATCH) */
    CMD_PLAIN_OK = 1u << 10,   /* the plain-text protocol answers OK, not the count (DEL, as
                                  the original mem-kv did) */
    CMD_SUBSCRIBED = 1u << 11, /* allowed on a RESP2 connection in subscribed mode (PING,
                                  QUIT and the (P|S)(UN)SUBSCRIBE commands, as Redis) */
    CMD_CONTAINER = 1u << 12,  /* has subcommands, which Redis names 'client|list' in errors */
};

/* Which member of a family that shares a route a command is. The router's
 * steps (net/route.c, net/blocking.c, net/multi.c) read it, with the
 * variant fields of cmd_def below, instead of the command's name.
 * CMDK_NONE for every command whose route and handler say enough. */
typedef enum cmd_kind {
    CMDK_NONE,
    CMDK_SETOP,       /* ROUTE_SETOP: SINTER/SUNION/SDIFF(+STORE), SINTERCARD (op: SETOP_*) */
    CMDK_ZSETOP,      /* ROUTE_SETOP: ZUNION/ZINTER/ZDIFF(+STORE), ZINTERCARD (op: ZSETOP_*) */
    CMDK_MPOP,        /* ROUTE_SETOP: ZMPOP (zset), LMPOP: across shards key by key in a run */
    CMDK_ZRANGESTORE, /* ROUTE_SETOP: the range from src's shard, stored at dst's */
    CMDK_BPOP,        /* ROUTE_BLOCK: BLPOP, BRPOP */
    CMDK_BLMOVE,      /* ROUTE_BLOCK: BLMOVE src dst from to timeout */
    CMDK_BRPOPLPUSH,  /* ROUTE_BLOCK: BRPOPLPUSH src dst timeout (BLMOVE RIGHT LEFT) */
    CMDK_BZPOP,       /* ROUTE_BLOCK: BZPOPMIN, BZPOPMAX (max) */
    CMDK_BMPOP,       /* ROUTE_BLOCK: BZMPOP (zset), BLMPOP */
    CMDK_MULTI,       /* ROUTE_MULTI: MULTI, EXEC, DISCARD, WATCH, UNWATCH: one kind each */
    CMDK_EXEC,
    CMDK_DISCARD,
    CMDK_WATCH,
    CMDK_UNWATCH,
} cmd_kind;

struct netthr;
struct conn;
struct kvbuf;

/* A command answered on the network thread: appends its reply to out. */
typedef void cmd_local_fn(struct netthr *t, struct conn *c, int argc, const kv_str *argv,
                          struct kvbuf *out);

typedef struct cmd_def {
    const char *name; /* lower case */
    int arity;        /* Redis convention: n exact, -n at least n */
    unsigned flags;   /* enum cmd_flag */
    cmd_route route;
    cmd_join join;
    cmd_fn *fn;                          /* shard handler (or part handler) */
    cmd_local_fn *local;                 /* for ROUTE_LOCAL */
    int first_key, last_key, key_step;   /* for COMMAND */
    const char *group, *since, *summary; /* for COMMAND DOCS */
    /* The variant within its route (0 for the others; rows name them): */
    uint8_t kind;  /* enum cmd_kind */
    uint8_t op;    /* CMDK_SETOP: SETOP_*; CMDK_ZSETOP: ZSETOP_* (engine/cmd.h) */
    uint8_t store; /* SETOP, ZSETOP, ZRANGESTORE: the STORE form (argv[1] is the destination) */
    uint8_t zset;  /* CMDK_MPOP, CMDK_BMPOP: of sorted sets (MIN|MAX), else of lists
                      (LEFT|RIGHT) */
    uint8_t high;  /* CMDK_BZPOP: pops the highest score (BZPOPMAX); CMDK_BPOP: pops the
                      tail (BRPOP) */
} cmd_def;

/* Finds a command by name, case-insensitively; NULL if unknown. Internal
 * commands are found only by cmdtab_internal. */
const cmd_def *cmdtab_lookup(const char *name, size_t len);
const cmd_def *cmdtab_internal(const char *name);
/* Iteration for COMMAND: the i-th public command, or NULL past the end. */
const cmd_def *cmdtab_at(size_t i);
size_t cmdtab_count(void);
/* Position of d in the iteration order (cmdtab_at(i) == d), that of its
 * container for a cmdtab_subcommand row; cmdtab_count() for an internal
 * command. For per-command arrays of cmdtab_count() + 1. */
size_t cmdtab_index(const cmd_def *d);

/* The row that runs argv: def itself, or for a container's subcommand
 * that names a key at argv[2] (MEMORY USAGE, OBJECT ENCODING/FREQ/
 * IDLETIME/REFCOUNT) a ROUTE_KEY row with first_key 2, which is not listed
 * by COMMAND. Call after the arity check of def. */
const cmd_def *cmdtab_subcommand(const cmd_def *def, int argc, const kv_str *argv);

/* 1 if argc fits the arity. */
static inline int cmdtab_arity_ok(const cmd_def *d, int argc)
{
    return d->arity >= 0 ? argc == d->arity : argc >= -d->arity;
}

#endif
