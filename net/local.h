/* local.h - commands answered by the network thread itself, without a
 * shard: connection and server commands. Network thread only. */
#ifndef MEMKV_LOCAL_H
#define MEMKV_LOCAL_H

#include "net/cmdtab.h"

cmd_local_fn local_ping, local_echo, local_quit, local_select, local_hello, local_client,
    local_command, local_config, local_time, local_auth, local_compact, local_shutdown,
    local_slowlog, local_latency, local_monitor;
/* MEMORY and OBJECT without a key (local_mem.c): HELP, STATS, DOCTOR,
 * MALLOC-STATS, PURGE; the subcommands with a key run on its shard
 * (cmdtab_subcommand), except inside a script, where they get an error. */
cmd_local_fn local_memory, local_object;

#endif
