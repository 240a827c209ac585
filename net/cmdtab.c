#include "net/cmdtab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "net/local.h"
#include "net/pubsub.h"
#include "net/scripting.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM

/* Key, shard-handled command. */
#define KEYCMD(n, ar, fl, handler, grp, ver, sum)                                                  \
    {                                                                                              \
        n, ar, fl, ROUTE_KEY, JOIN_SINGLE, handler, NULL, 1, 1, 1, grp, ver, sum                   \
    }
#define LOCALCMD(n, ar, fl, handler, ver, sum)                                                     \
    {                                                                                              \
        n, ar, fl, ROUTE_LOCAL, JOIN_SINGLE, NULL, handler, 0, 0, 0, "connection", ver, sum        \
    }

/* EVAL and friends: routed by net/scripting.c to the actor of their KEYS. */
#define SCRIPTCMD(n, ver, sum)                                                                     \
    {                                                                                              \
        n, -3, CMD_NOSCRIPT | CMD_STALE, ROUTE_SCRIPT, JOIN_SINGLE, script_part, NULL, 0, 0, 0,    \
            "scripting", ver, sum                                                                  \
    }
/* Pub/Sub: answered by the network thread (net/pubsub.c). */
#define PSCMD(n, ar, fl, handler, ver, sum)                                                        \
    {                                                                                              \
        n, ar, fl, ROUTE_LOCAL, JOIN_SINGLE, NULL, handler, 0, 0, 0, "pubsub", ver, sum            \
    }
#define MULTICMD(n, k, ar, fl, ver, sum)                                                           \
    {                                                                                              \
        n, ar, fl, ROUTE_MULTI, JOIN_MULTI, NULL, NULL, 0, 0, 0, "transactions", ver, sum,         \
            .kind = k                                                                              \
    }

/* A row gives the fields up to summary in order, then names the variant
 * fields (kind, op, store, zset, max) it has; the others are 0, which is
 * what the positional rows leave out. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Sorted by name (COMMAND LIST and the tests rely on the order). */
static const cmd_def commands[] = {
    KEYCMD("append", 3, W | M, cmd_append, "string", "2.0.0", "Append a value to a key"),
    LOCALCMD("auth", -2, F | CMD_NO_AUTH | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, local_auth,
             "1.0.0", "Authenticate to the server"),
    {"blmove", 6, W | M, ROUTE_BLOCK, JOIN_SINGLE, cmd_blmove, NULL, 1, 2, 1, "list", "6.2.0",
     "Pop an element from a list, push it to another list and return it; or block until one is "
     "available",
     .kind = CMDK_BLMOVE},
    {"blmpop", -5, W, ROUTE_BLOCK, JOIN_SINGLE, cmd_blmpop, NULL, 0, 0, 0, "list", "7.0.0",
     "Pop elements from the first non-empty list, or block until one is available",
     .kind = CMDK_BMPOP},
    {"blpop", -3, W, ROUTE_BLOCK, JOIN_SINGLE, cmd_blpop, NULL, 1, -2, 1, "list", "2.0.0",
     "Remove and get the first element in a list, or block until one is available",
     .kind = CMDK_BPOP},
    {"brpop", -3, W, ROUTE_BLOCK, JOIN_SINGLE, cmd_brpop, NULL, 1, -2, 1, "list", "2.0.0",
     "Remove and get the last element in a list, or block until one is available",
     .kind = CMDK_BPOP, .high = 1},
    {"brpoplpush", 4, W | M, ROUTE_BLOCK, JOIN_SINGLE, cmd_brpoplpush, NULL, 1, 2, 1, "list",
     "2.2.0",
     "Pop an element from a list, push it to another list and return it; or block until one is "
     "available",
     .kind = CMDK_BRPOPLPUSH},
    {"bzmpop", -5, W, ROUTE_BLOCK, JOIN_SINGLE, cmd_bzmpop, NULL, 0, 0, 0, "sorted_set", "7.0.0",
     "Remove and return members with scores in a sorted set or block until one is available",
     .kind = CMDK_BMPOP, .zset = 1},
    {"bzpopmax", -3, W | F, ROUTE_BLOCK, JOIN_SINGLE, cmd_bzpopmax, NULL, 1, -2, 1, "sorted_set",
     "5.0.0",
     "Remove and return the member with the highest score from one or more sorted sets, or block "
     "until one is available",
     .kind = CMDK_BZPOP, .high = 1},
    {"bzpopmin", -3, W | F, ROUTE_BLOCK, JOIN_SINGLE, cmd_bzpopmin, NULL, 1, -2, 1, "sorted_set",
     "5.0.0",
     "Remove and return the member with the lowest score from one or more sorted sets, or block "
     "until one is available",
     .kind = CMDK_BZPOP},
    LOCALCMD("client", -2, CMD_CONTAINER, local_client, "2.4.0",
             "A container for client connection commands"),
    LOCALCMD("command", -1, CMD_CONTAINER | CMD_LOADING | CMD_STALE, local_command, "2.8.13",
             "Get array of command details"),
    {"compact", 1, 0, ROUTE_LOCAL, JOIN_SINGLE, NULL, local_compact, 0, 0, 0, "server", "mem-kv",
     "Schedule compaction of the write-ahead log"},
    {"config", -2, CMD_CONTAINER, ROUTE_LOCAL, JOIN_SINGLE, NULL, local_config, 0, 0, 0, "server",
     "2.0.0", "A container for server configuration commands"},
    {"copy", -3, W | M, ROUTE_TWO, JOIN_SINGLE, cmd_copy, NULL, 1, 2, 1, "generic", "6.2.0",
     "Copy a key"},
    {"dbsize", 1, R | F, ROUTE_ALL, JOIN_SUM, cmd_dbsize_part, NULL, 0, 0, 0, "server", "1.0.0",
     "Return the number of keys in the selected database"},
    KEYCMD("decr", 2, W | M | F, cmd_decr, "string", "1.0.0",
           "Decrement the integer value of a key by one"),
    KEYCMD("decrby", 3, W | M | F, cmd_decrby, "string", "1.0.0",
           "Decrement the integer value of a key by the given number"),
    {"del", -2, W | CMD_PLAIN_OK, ROUTE_KEYS, JOIN_SUM, cmd_del_part, NULL, 1, -1, 1, "generic",
     "1.0.0", "Delete a key"},
    MULTICMD("discard", CMDK_DISCARD, 1,
             F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_TX_CONTROL, "2.0.0",
             "Discard all commands issued after MULTI"),
    LOCALCMD("echo", 2, F, local_echo, "1.0.0", "Echo the given string"),
    SCRIPTCMD("eval", "2.6.0", "Execute a Lua script server side"),
    SCRIPTCMD("eval_ro", "7.0.0", "Execute a read-only Lua script server side"),
    SCRIPTCMD("evalsha", "2.6.0", "Execute a Lua script server side"),
    SCRIPTCMD("evalsha_ro", "7.0.0", "Execute a read-only Lua script server side"),
    MULTICMD("exec", CMDK_EXEC, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_TX_CONTROL, "1.2.0",
             "Execute all commands issued after MULTI"),
    {"exists", -2, R | F, ROUTE_KEYS, JOIN_SUM, cmd_exists_part, NULL, 1, -1, 1, "generic", "1.0.0",
     "Determine if a key exists"},
    KEYCMD("expire", -3, W | F, cmd_expire, "generic", "1.0.0",
           "Set a key's time to live in seconds"),
    KEYCMD("expireat", -3, W | F, cmd_expireat, "generic", "1.2.0",
           "Set the expiration for a key as a UNIX timestamp"),
    KEYCMD("expiretime", 2, R | F, cmd_expiretime, "generic", "7.0.0",
           "Get the expiration Unix timestamp for a key"),
    {"flushall", -1, W, ROUTE_ALL, JOIN_OK, cmd_flushall_part, NULL, 0, 0, 0, "server", "1.0.0",
     "Remove all keys from all databases"},
    {"flushdb", -1, W, ROUTE_ALL, JOIN_OK, cmd_flushdb_part, NULL, 0, 0, 0, "server", "1.0.0",
     "Remove all keys from the current database"},
    KEYCMD("get", 2, R | F, cmd_get, "string", "1.0.0", "Get the value of a key"),
    KEYCMD("getdel", 2, W | F, cmd_getdel, "string", "6.2.0",
           "Get the value of a key and delete the key"),
    KEYCMD("getex", -2, W | F, cmd_getex, "string", "6.2.0",
           "Get the value of a key and optionally set its expiration"),
    KEYCMD("getrange", 4, R, cmd_getrange, "string", "2.4.0",
           "Get a substring of the string stored at a key"),
    KEYCMD("getset", 3, W | M | F, cmd_getset, "string", "1.0.0",
           "Set the string value of a key and return its old value"),
    KEYCMD("hdel", -3, W | F, cmd_hdel, "hash", "2.0.0", "Delete one or more hash fields"),
    LOCALCMD("hello", -1, F | CMD_NO_AUTH | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, local_hello,
             "6.0.0", "Handshake with Redis"),
    KEYCMD("hexists", 3, R | F, cmd_hexists, "hash", "2.0.0", "Determine if a hash field exists"),
    KEYCMD("hget", 3, R | F, cmd_hget, "hash", "2.0.0", "Get the value of a hash field"),
    KEYCMD("hgetall", 2, R, cmd_hgetall, "hash", "2.0.0",
           "Get all the fields and values in a hash"),
    KEYCMD("hincrby", 4, W | M | F, cmd_hincrby, "hash", "2.0.0",
           "Increment the integer value of a hash field by the given number"),
    KEYCMD("hincrbyfloat", 4, W | M | F, cmd_hincrbyfloat, "hash", "2.6.0",
           "Increment the float value of a hash field by the given amount"),
    KEYCMD("hkeys", 2, R, cmd_hkeys, "hash", "2.0.0", "Get all the fields in a hash"),
    KEYCMD("hlen", 2, R | F, cmd_hlen, "hash", "2.0.0", "Get the number of fields in a hash"),
    KEYCMD("hmget", -3, R | F, cmd_hmget, "hash", "2.0.0",
           "Get the values of all the given hash fields"),
    KEYCMD("hmset", -4, W | M | F, cmd_hmset, "hash", "2.0.0",
           "Set multiple hash fields to multiple values"),
    KEYCMD("hrandfield", -2, R, cmd_hrandfield, "hash", "6.2.0",
           "Get one or multiple random fields from a hash"),
    KEYCMD("hscan", -3, R, cmd_hscan, "hash", "2.8.0",
           "Incrementally iterate hash fields and associated values"),
    KEYCMD("hset", -4, W | M | F, cmd_hset, "hash", "2.0.0",
           "Set the string value of a hash field"),
    KEYCMD("hsetnx", 4, W | M | F, cmd_hsetnx, "hash", "2.0.0",
           "Set the value of a hash field, only if the field does not exist"),
    KEYCMD("hstrlen", 3, R | F, cmd_hstrlen, "hash", "3.2.0",
           "Get the length of the value of a hash field"),
    KEYCMD("hvals", 2, R, cmd_hvals, "hash", "2.0.0", "Get all the values in a hash"),
    KEYCMD("incr", 2, W | M | F, cmd_incr, "string", "1.0.0",
           "Increment the integer value of a key by one"),
    KEYCMD("incrby", 3, W | M | F, cmd_incrby, "string", "1.0.0",
           "Increment the integer value of a key by the given amount"),
    KEYCMD("incrbyfloat", 3, W | M | F, cmd_incrbyfloat, "string", "2.6.0",
           "Increment the float value of a key by the given amount"),
    {"info", -1, CMD_LOADING | CMD_STALE, ROUTE_ALL, JOIN_INFO, cmd_info_part, NULL, 0, 0, 0,
     "server", "1.0.0", "Get information and statistics about the server"},
    {"keys", 2, R, ROUTE_ALL, JOIN_CONCAT, cmd_keys_part, NULL, 0, 0, 0, "generic", "1.0.0",
     "Find all keys matching the given pattern"},
    {"latency", -2, CMD_CONTAINER | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ROUTE_LOCAL,
     JOIN_SINGLE, NULL, local_latency, 0, 0, 0, "server", "2.8.13",
     "A container for latency diagnostics commands"},
    KEYCMD("lindex", 3, R, cmd_lindex, "list", "1.0.0", "Get an element from a list by its index"),
    KEYCMD("linsert", 5, W | M, cmd_linsert, "list", "2.2.0",
           "Insert an element before or after another element in a list"),
    KEYCMD("llen", 2, R | F, cmd_llen, "list", "1.0.0", "Get the length of a list"),
    {"lmove", 5, W | M, ROUTE_TWO, JOIN_SINGLE, cmd_lmove, NULL, 1, 2, 1, "list", "6.2.0",
     "Pop an element from a list, push it to another list and return it"},
    {"lmpop", -4, W, ROUTE_SETOP, JOIN_SINGLE, cmd_lmpop, NULL, 0, 0, 0, "list", "7.0.0",
     "Pop elements from a list", .kind = CMDK_MPOP},
    KEYCMD("lpop", -2, W | F, cmd_lpop, "list", "1.0.0",
           "Remove and get the first elements in a list"),
    KEYCMD("lpos", -3, R, cmd_lpos, "list", "6.0.6",
           "Return the index of matching elements on a list"),
    KEYCMD("lpush", -3, W | M | F, cmd_lpush, "list", "1.0.0",
           "Prepend one or multiple elements to a list"),
    KEYCMD("lpushx", -3, W | M | F, cmd_lpushx, "list", "2.2.0",
           "Prepend an element to a list, only if the list exists"),
    KEYCMD("lrange", 4, R, cmd_lrange, "list", "1.0.0", "Get a range of elements from a list"),
    KEYCMD("lrem", 4, W, cmd_lrem, "list", "1.0.0", "Remove elements from a list"),
    KEYCMD("lset", 4, W | M, cmd_lset, "list", "1.0.0",
           "Set the value of an element in a list by its index"),
    KEYCMD("ltrim", 4, W, cmd_ltrim, "list", "1.0.0", "Trim a list to the specified range"),
    LOCALCMD("memory", -2, CMD_CONTAINER, local_memory, "4.0.0",
             "A container for memory diagnostics commands"),
    {"mget", -2, R | F, ROUTE_KEYS, JOIN_MGET, cmd_mget_part, NULL, 1, -1, 1, "string", "1.0.0",
     "Get the values of all the given keys"},
    {"monitor", 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ROUTE_LOCAL, JOIN_SINGLE, NULL,
     local_monitor, 0, 0, 0, "server", "1.0.0",
     "Listen for all requests received by the server in real time"},
    KEYCMD("move", 3, W | F, cmd_move, "generic", "1.0.0", "Move a key to another database"),
    {"mset", -3, W | M, ROUTE_PAIRS, JOIN_OK, cmd_mset_part, NULL, 1, -1, 2, "string", "1.0.1",
     "Set multiple keys to multiple values"},
    {"msetnx", -3, W | M, ROUTE_MSETNX, JOIN_STAGED, cmd_mset_part, NULL, 1, -1, 2, "string",
     "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist"},
    MULTICMD("multi", CMDK_MULTI, 1, F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_TX_CONTROL,
             "1.2.0", "Mark the start of a transaction block"),
    LOCALCMD("object", -2, CMD_CONTAINER, local_object, "2.2.3",
             "A container for object introspection commands"),
    KEYCMD("persist", 2, W | F, cmd_persist, "generic", "2.2.0",
           "Remove the expiration from a key"),
    KEYCMD("pexpire", -3, W | F, cmd_pexpire, "generic", "2.6.0",
           "Set a key's time to live in milliseconds"),
    KEYCMD("pexpireat", -3, W | F, cmd_pexpireat, "generic", "2.6.0",
           "Set the expiration for a key as a UNIX timestamp specified in milliseconds"),
    KEYCMD("pexpiretime", 2, R | F, cmd_pexpiretime, "generic", "7.0.0",
           "Get the expiration Unix timestamp for a key in milliseconds"),
    LOCALCMD("ping", -1, F | CMD_SUBSCRIBED, pubsub_ping, "1.0.0", "Ping the server"),
    KEYCMD("psetex", 4, W | M, cmd_psetex, "string", "2.6.0",
           "Set the value and expiration in milliseconds of a key"),
    PSCMD("psubscribe", -2, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_psubscribe, "2.0.0",
          "Listen for messages published to channels matching the given patterns"),
    KEYCMD("pttl", 2, R | F, cmd_pttl, "generic", "2.6.0",
           "Get the time to live for a key in milliseconds"),
    PSCMD("publish", 3, CMD_LOADING | CMD_STALE | F, pubsub_publish, "2.0.0",
          "Post a message to a channel"),
    PSCMD("pubsub", -2, CMD_CONTAINER | CMD_LOADING | CMD_STALE, pubsub_pubsub, "2.8.0",
          "A container for Pub/Sub commands"),
    PSCMD("punsubscribe", -1, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_punsubscribe, "2.0.0",
          "Stop listening for messages posted to channels matching the given patterns"),
    LOCALCMD("quit", -1,
             F | CMD_SUBSCRIBED | CMD_NO_AUTH | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE |
                 CMD_TX_CONTROL,
             local_quit, "1.0.0", "Close the connection"),
    {"randomkey", 1, R, ROUTE_ALL, JOIN_RANDOM, cmd_randomkey_part, NULL, 0, 0, 0, "generic",
     "1.0.0", "Return a random key from the keyspace"},
    {"rename", 3, W, ROUTE_RENAME, JOIN_SINGLE, cmd_rename, NULL, 1, 2, 1, "generic", "1.0.0",
     "Rename a key"},
    {"renamenx", 3, W | F, ROUTE_RENAME, JOIN_SINGLE, cmd_renamenx, NULL, 1, 2, 1, "generic",
     "1.0.0", "Rename a key, only if the new key does not exist"},
    KEYCMD("rpop", -2, W | F, cmd_rpop, "list", "1.0.0",
           "Remove and get the last elements in a list"),
    {"rpoplpush", 3, W | M, ROUTE_TWO, JOIN_SINGLE, cmd_rpoplpush, NULL, 1, 2, 1, "list", "1.2.0",
     "Remove the last element in a list, prepend it to another list and return it"},
    KEYCMD("rpush", -3, W | M | F, cmd_rpush, "list", "1.0.0",
           "Append one or multiple elements to a list"),
    KEYCMD("rpushx", -3, W | M | F, cmd_rpushx, "list", "2.2.0",
           "Append an element to a list, only if the list exists"),
    KEYCMD("sadd", -3, W | M | F, cmd_sadd, "set", "1.0.0", "Add one or more members to a set"),
    {"scan", -2, R, ROUTE_SCAN, JOIN_SCAN, cmd_scan, NULL, 0, 0, 0, "generic", "2.8.0",
     "Incrementally iterate the keys space"},
    KEYCMD("scard", 2, R | F, cmd_scard, "set", "1.0.0", "Get the number of members in a set"),
    {"script", -2, CMD_CONTAINER | CMD_NOSCRIPT, ROUTE_LOCAL, JOIN_SINGLE, NULL, local_script, 0, 0,
     0, "scripting", "2.6.0", "A container for Lua scripts management commands"},
    {"sdiff", -2, R, ROUTE_SETOP, JOIN_SINGLE, cmd_sdiff, NULL, 1, -1, 1, "set", "1.0.0",
     "Subtract multiple sets", .kind = CMDK_SETOP, .op = SETOP_DIFF},
    {"sdiffstore", -3, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_sdiffstore, NULL, 1, -1, 1, "set",
     "1.0.0", "Subtract multiple sets and store the resulting set in a key", .kind = CMDK_SETOP,
     .op = SETOP_DIFF, .store = 1},
    LOCALCMD("select", 2, F | CMD_LOADING | CMD_STALE, local_select, "1.0.0",
             "Change the selected database for the current connection"),
    KEYCMD("set", -3, W | M, cmd_set, "string", "1.0.0", "Set the string value of a key"),
    KEYCMD("setex", 4, W | M, cmd_setex, "string", "2.0.0",
           "Set the value and expiration of a key"),
    KEYCMD("setnx", 3, W | M | F, cmd_setnx, "string", "1.0.0",
           "Set the value of a key, only if the key does not exist"),
    KEYCMD("setrange", 4, W | M, cmd_setrange, "string", "2.2.0",
           "Overwrite part of a string at key starting at the specified offset"),
    {"shutdown", -1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ROUTE_LOCAL, JOIN_SINGLE, NULL,
     local_shutdown, 0, 0, 0, "server", "1.0.0",
     "Synchronously save the dataset to disk and then shut down the server"},
    {"sinter", -2, R, ROUTE_SETOP, JOIN_SINGLE, cmd_sinter, NULL, 1, -1, 1, "set", "1.0.0",
     "Intersect multiple sets", .kind = CMDK_SETOP, .op = SETOP_INTER},
    {"sintercard", -3, R, ROUTE_SETOP, JOIN_SINGLE, cmd_sintercard, NULL, 0, 0, 0, "set", "7.0.0",
     "Intersect multiple sets and return the cardinality of the result", .kind = CMDK_SETOP,
     .op = SETOP_INTERCARD},
    {"sinterstore", -3, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_sinterstore, NULL, 1, -1, 1, "set",
     "1.0.0", "Intersect multiple sets and store the resulting set in a key", .kind = CMDK_SETOP,
     .op = SETOP_INTER, .store = 1},
    KEYCMD("sismember", 3, R | F, cmd_sismember, "set", "1.0.0",
           "Determine if a given value is a member of a set"),
    {"slowlog", -2, CMD_CONTAINER, ROUTE_LOCAL, JOIN_SINGLE, NULL, local_slowlog, 0, 0, 0, "server",
     "2.2.12", "A container for slow log commands"},
    KEYCMD("smembers", 2, R, cmd_smembers, "set", "1.0.0", "Get all the members in a set"),
    KEYCMD("smismember", -3, R | F, cmd_smismember, "set", "6.2.0",
           "Returns the membership associated with the given elements for a set"),
    {"smove", 4, W | F, ROUTE_TWO, JOIN_SINGLE, cmd_smove, NULL, 1, 2, 1, "set", "1.0.0",
     "Move a member from one set to another"},
    KEYCMD("spop", -2, W | F, cmd_spop, "set", "1.0.0",
           "Remove and return one or multiple random members from a set"),
    PSCMD("spublish", 3, CMD_LOADING | CMD_STALE | F, pubsub_spublish, "7.0.0",
          "Post a message to a shard channel"),
    KEYCMD("srandmember", -2, R, cmd_srandmember, "set", "1.0.0",
           "Get one or multiple random members from a set"),
    KEYCMD("srem", -3, W | F, cmd_srem, "set", "1.0.0", "Remove one or more members from a set"),
    KEYCMD("sscan", -3, R, cmd_sscan, "set", "2.8.0", "Incrementally iterate Set elements"),
    PSCMD("ssubscribe", -2, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_ssubscribe, "7.0.0", "Listen for messages published to the given shard channels"),
    {"stats", 1, 0, ROUTE_ALL, JOIN_STATS, cmd_info_part, NULL, 0, 0, 0, "server", "mem-kv",
     "Server statistics as one JSON object"},
    KEYCMD("strlen", 2, R | F, cmd_strlen, "string", "2.2.0",
           "Get the length of the value stored in a key"),
    PSCMD("subscribe", -2, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_subscribe, "2.0.0", "Listen for messages published to the given channels"),
    KEYCMD("substr", 4, R, cmd_getrange, "string", "1.0.0",
           "Get a substring of the string stored at a key"),
    {"sunion", -2, R, ROUTE_SETOP, JOIN_SINGLE, cmd_sunion, NULL, 1, -1, 1, "set", "1.0.0",
     "Add multiple sets", .kind = CMDK_SETOP, .op = SETOP_UNION},
    {"sunionstore", -3, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_sunionstore, NULL, 1, -1, 1, "set",
     "1.0.0", "Add multiple sets and store the resulting set in a key", .kind = CMDK_SETOP,
     .op = SETOP_UNION, .store = 1},
    PSCMD("sunsubscribe", -1, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_sunsubscribe, "7.0.0",
          "Stop listening for messages posted to the given shard channels"),
    LOCALCMD("time", 1, F | CMD_LOADING | CMD_STALE, local_time, "2.6.0",
             "Return the current server time"),
    {"touch", -2, R | F, ROUTE_KEYS, JOIN_SUM, cmd_exists_part, NULL, 1, -1, 1, "generic", "3.2.1",
     "Alters the last access time of a key(s). Returns the number of existing keys specified."},
    KEYCMD("ttl", 2, R | F, cmd_ttl, "generic", "1.0.0",
           "Get the time to live for a key in seconds"),
    KEYCMD("type", 2, R | F, cmd_type, "generic", "1.0.0", "Determine the type stored at key"),
    {"unlink", -2, W | F, ROUTE_KEYS, JOIN_SUM, cmd_del_part, NULL, 1, -1, 1, "generic", "4.0.0",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking."},
    PSCMD("unsubscribe", -1, CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
          pubsub_unsubscribe, "2.0.0", "Stop listening for messages posted to the given channels"),
    MULTICMD("unwatch", CMDK_UNWATCH, 1, F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, "2.2.0",
             "Forget about all watched keys"),
    MULTICMD("watch", CMDK_WATCH, -2, F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_TX_CONTROL,
             "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block"),
    KEYCMD("zadd", -4, W | M | F, cmd_zadd, "sorted_set", "1.2.0",
           "Add one or more members to a sorted set, or update its score if it already exists"),
    KEYCMD("zcard", 2, R | F, cmd_zcard, "sorted_set", "1.2.0",
           "Get the number of members in a sorted set"),
    KEYCMD("zcount", 4, R | F, cmd_zcount, "sorted_set", "2.0.0",
           "Count the members in a sorted set with scores within the given values"),
    {"zdiff", -3, R, ROUTE_SETOP, JOIN_SINGLE, cmd_zdiff, NULL, 0, 0, 0, "sorted_set", "6.2.0",
     "Subtract multiple sorted sets", .kind = CMDK_ZSETOP, .op = ZSETOP_DIFF},
    {"zdiffstore", -4, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_zdiffstore, NULL, 1, 1, 1, "sorted_set",
     "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key",
     .kind = CMDK_ZSETOP, .op = ZSETOP_DIFF, .store = 1},
    KEYCMD("zincrby", 4, W | M | F, cmd_zincrby, "sorted_set", "1.2.0",
           "Increment the score of a member in a sorted set"),
    {"zinter", -3, R, ROUTE_SETOP, JOIN_SINGLE, cmd_zinter, NULL, 0, 0, 0, "sorted_set", "6.2.0",
     "Intersect multiple sorted sets", .kind = CMDK_ZSETOP, .op = ZSETOP_INTER},
    {"zintercard", -3, R, ROUTE_SETOP, JOIN_SINGLE, cmd_zintercard, NULL, 0, 0, 0, "sorted_set",
     "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result",
     .kind = CMDK_ZSETOP, .op = ZSETOP_INTERCARD},
    {"zinterstore", -4, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_zinterstore, NULL, 1, 1, 1,
     "sorted_set", "2.0.0",
     "Intersect multiple sorted sets and store the resulting sorted set in a new key",
     .kind = CMDK_ZSETOP, .op = ZSETOP_INTER, .store = 1},
    KEYCMD("zlexcount", 4, R | F, cmd_zlexcount, "sorted_set", "2.8.9",
           "Count the number of members in a sorted set between a given lexicographical range"),
    {"zmpop", -4, W, ROUTE_SETOP, JOIN_SINGLE, cmd_zmpop, NULL, 0, 0, 0, "sorted_set", "7.0.0",
     "Remove and return members with scores in a sorted set", .kind = CMDK_MPOP, .zset = 1},
    KEYCMD("zmscore", -3, R | F, cmd_zmscore, "sorted_set", "6.2.0",
           "Get the score associated with the given members in a sorted set"),
    KEYCMD("zpopmax", -2, W | F, cmd_zpopmax, "sorted_set", "5.0.0",
           "Remove and return members with the highest scores in a sorted set"),
    KEYCMD("zpopmin", -2, W | F, cmd_zpopmin, "sorted_set", "5.0.0",
           "Remove and return members with the lowest scores in a sorted set"),
    KEYCMD("zrandmember", -2, R, cmd_zrandmember, "sorted_set", "6.2.0",
           "Get one or multiple random elements from a sorted set"),
    KEYCMD("zrange", -4, R, cmd_zrange, "sorted_set", "1.2.0",
           "Return a range of members in a sorted set (by index)"),
    KEYCMD("zrangebylex", -4, R, cmd_zrangebylex, "sorted_set", "2.8.9",
           "Return a range of members in a sorted set, by lexicographical range"),
    KEYCMD("zrangebyscore", -4, R, cmd_zrangebyscore, "sorted_set", "1.0.5",
           "Return a range of members in a sorted set, by score"),
    {"zrangestore", -5, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_zrangestore, NULL, 1, 2, 1,
     "sorted_set", "6.2.0", "Store a range of members from sorted set into another key",
     .kind = CMDK_ZRANGESTORE, .store = 1},
    KEYCMD("zrank", 3, R | F, cmd_zrank, "sorted_set", "2.0.0",
           "Determine the index of a member in a sorted set"),
    KEYCMD("zrem", -3, W | F, cmd_zrem, "sorted_set", "1.2.0",
           "Remove one or more members from a sorted set"),
    KEYCMD("zremrangebylex", 4, W, cmd_zremrangebylex, "sorted_set", "2.8.9",
           "Remove all members in a sorted set between the given lexicographical range"),
    KEYCMD("zremrangebyrank", 4, W, cmd_zremrangebyrank, "sorted_set", "2.0.0",
           "Remove all members in a sorted set within the given indexes"),
    KEYCMD("zremrangebyscore", 4, W, cmd_zremrangebyscore, "sorted_set", "1.2.0",
           "Remove all members in a sorted set within the given scores"),
    KEYCMD("zrevrange", -4, R, cmd_zrevrange, "sorted_set", "1.2.0",
           "Return a range of members in a sorted set, by index, with scores ordered from high to "
           "low"),
    KEYCMD("zrevrangebylex", -4, R, cmd_zrevrangebylex, "sorted_set", "2.8.9",
           "Return a range of members in a sorted set, by lexicographical range, ordered from "
           "higher to lower strings."),
    KEYCMD("zrevrangebyscore", -4, R, cmd_zrevrangebyscore, "sorted_set", "2.2.0",
           "Return a range of members in a sorted set, by score, with scores ordered from high to "
           "low"),
    KEYCMD("zrevrank", 3, R | F, cmd_zrevrank, "sorted_set", "2.0.0",
           "Determine the index of a member in a sorted set, with scores ordered from high to low"),
    KEYCMD("zscan", -3, R, cmd_zscan, "sorted_set", "2.8.0",
           "Incrementally iterate sorted sets elements and associated scores"),
    KEYCMD("zscore", 3, R | F, cmd_zscore, "sorted_set", "1.2.0",
           "Get the score associated with the given member in a sorted set"),
    {"zunion", -3, R, ROUTE_SETOP, JOIN_SINGLE, cmd_zunion, NULL, 0, 0, 0, "sorted_set", "6.2.0",
     "Add multiple sorted sets", .kind = CMDK_ZSETOP, .op = ZSETOP_UNION},
    {"zunionstore", -4, W | M, ROUTE_SETOP, JOIN_SINGLE, cmd_zunionstore, NULL, 1, 1, 1,
     "sorted_set", "2.0.0",
     "Add multiple sorted sets and store the resulting sorted set in a new key",
     .kind = CMDK_ZSETOP, .op = ZSETOP_UNION, .store = 1},
};

static const cmd_def internal[] = {
    {"take", 2, W | CMD_INTERNAL, ROUTE_KEY, JOIN_SINGLE, cmd_take_part, NULL, 1, 1, 1, "", "", ""},
    {"put", 5, W | CMD_INTERNAL, ROUTE_KEY, JOIN_SINGLE, cmd_put_part, NULL, 1, 1, 1, "", "", ""},
};

/* The subcommands of MEMORY and OBJECT that name a key (argv[2]): run on
 * its shard (cmdtab_subcommand); first_key tells route_parts where it is. */
static const cmd_def subcommands[] = {
    {"memory", -3, R, ROUTE_KEY, JOIN_SINGLE, cmd_memory_usage, NULL, 2, 2, 1, "server", "4.0.0",
     "Estimate the memory usage of a key"},
    {"object", -3, R, ROUTE_KEY, JOIN_SINGLE, cmd_object, NULL, 2, 2, 1, "generic", "2.2.3",
     "Inspect the internals of a key"},
};
#pragma GCC diagnostic pop

const cmd_def *cmdtab_subcommand(const cmd_def *def, int argc, const kv_str *argv)
{
    if (argc < 3 || def->route != ROUTE_LOCAL) return def;
    const kv_str *sub = &argv[1];
#define SUB_IS(w) (sub->len == sizeof(w) - 1 && strncasecmp(sub->p, w, sub->len) == 0)
    if (def->local == local_memory && SUB_IS("usage")) return &subcommands[0];
    if (def->local == local_object &&
        (SUB_IS("encoding") || SUB_IS("freq") || SUB_IS("idletime") || SUB_IS("refcount")))
        return &subcommands[1];
#undef SUB_IS
    return def;
}

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Lookup by hash: an open-addressing index over the (constant) table,
 * built once; a command name is hashed while it is lowercased, so a lookup
 * costs one pass over the name and usually one comparison (it was a binary
 * search with ~7 strcmp calls, 6-11 % of a GET's instructions). */
#define CMDTAB_INDEX 512 /* power of two, well above 2 x NCOMMANDS */

static uint16_t cmd_index[CMDTAB_INDEX]; /* 1 + position in commands, 0 = empty */
static pthread_once_t cmd_index_once = PTHREAD_ONCE_INIT;
static atomic_int cmd_index_ready; /* set (release) once cmd_index is built */

static uint32_t name_hash(const char *low, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)low[i]) * 16777619u;
    return h;
}

static void cmd_index_build(void)
{
    _Static_assert(NCOMMANDS * 2 < CMDTAB_INDEX, "command index too small");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        uint32_t j = name_hash(commands[i].name, strlen(commands[i].name)) & (CMDTAB_INDEX - 1);
        while (cmd_index[j]) j = (j + 1) & (CMDTAB_INDEX - 1);
        cmd_index[j] = (uint16_t)(i + 1);
    }
    atomic_store_explicit(&cmd_index_ready, 1, memory_order_release);
}

const cmd_def *cmdtab_lookup(const char *name, size_t len)
{
    char low[32];
    if (len == 0 || len >= sizeof low) return NULL;
    /* the index is built once; after that one acquire load, not a call */
    if (!atomic_load_explicit(&cmd_index_ready, memory_order_acquire))
        pthread_once(&cmd_index_once, cmd_index_build);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        h = (h ^ (uint8_t)low[i]) * 16777619u;
    }
    for (uint32_t j = h & (CMDTAB_INDEX - 1); cmd_index[j]; j = (j + 1) & (CMDTAB_INDEX - 1)) {
        const cmd_def *d = &commands[cmd_index[j] - 1];
        /* inline, not strncmp: names are a few bytes; a NUL in d->name
         * ends the comparison (low may hold NUL bytes of its own) */
        size_t i = 0;
        while (i < len && d->name[i] != '\0' && d->name[i] == low[i]) i++;
        if (i == len && d->name[len] == '\0') return d;
    }
    return NULL;
}

const cmd_def *cmdtab_internal(const char *name)
{
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
        if (strcmp(internal[i].name, name) == 0) return &internal[i];
    return NULL;
}

const cmd_def *cmdtab_at(size_t i)
{
    return i < NCOMMANDS ? &commands[i] : NULL;
}

size_t cmdtab_count(void)
{
    return NCOMMANDS;
}

size_t cmdtab_index(const cmd_def *d)
{
    uintptr_t p = (uintptr_t)d, base = (uintptr_t)commands;
    if (p >= base && p < base + sizeof commands) return (size_t)(d - commands);
    uintptr_t sub = (uintptr_t)subcommands;
    if (p >= sub && p < sub + sizeof subcommands) { /* counted as their container */
        const cmd_def *c = cmdtab_lookup(d->name, strlen(d->name));
        return c ? (size_t)(c - commands) : NCOMMANDS;
    }
    return NCOMMANDS;
}
