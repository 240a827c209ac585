/* multi.h - transactions: MULTI / EXEC / DISCARD / WATCH / UNWATCH, with
 * Redis 7.0's semantics and texts.
 *
 * After MULTI a connection's commands are checked (unknown command, arity,
 * AUTH, OOM: any refusal makes EXEC answer EXECABORT) and queued on the
 * connection (+QUEUED). EXEC makes every queued command's parts at once
 * and sends the whole transaction as one frozen run (actors/actor.h): one
 * request to each actor that owns a shard the transaction touches (or a
 * watched key's shard). With one such actor (always, in the default
 * layout) that request runs every command in order like a pipeline; with
 * several, the actors park together and the last one runs it, so no other
 * client sees a state between two of its commands, on any shard. WATCH
 * registers keys in their shards (engine/watch.h); EXEC checks them first
 * and answers a nil array if one changed. The same frozen run carries a
 * plain write over several shards when the server logs (multi_write_group,
 * multi_rename_group): a transaction of one command, whole after a crash.
 *
 * Network thread of the connection only (except multi_run, see multi.c).
 */
#ifndef MEMKV_MULTI_H
#define MEMKV_MULTI_H

#include "net/net_internal.h"

/* 1 if c is between MULTI and EXEC/DISCARD. */
int multi_active(const conn *c);
/* A command of c was refused before it ran (unknown, arity, NOAUTH, OOM):
 * a transaction in progress is aborted at EXEC. */
void multi_flag_error(conn *c);
/* Queues a checked command of c, in MULTI; its slot answers +QUEUED. */
void multi_queue(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv);
/* A ROUTE_MULTI command: appends exactly one slot to c's FIFO. */
void multi_command(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv);
/* JOIN_MULTI: builds the reply of a transaction command's slot. */
void multi_join(netthr *t, kv_slot *sl);
/* A write over two or more shards outside MULTI (MSET, DEL, UNLINK,
 * FLUSHALL, MSETNX's set; route.c, with persistence on): sl's parts (its
 * subs, made, not queued) run as one frozen run, one request per involved
 * actor, so their records are logged as one transaction (a TX record in
 * front of each shard's part) and recovery applies all or none of them.
 * With one involved actor nothing waits. sl's join is unchanged. */
void multi_write_group(netthr *t, kv_slot *sl);
/* RENAME / RENAMENX of sl across two shards outside MULTI (route.c, with
 * persistence on): one frozen run over both shards, as in EXEC, so the
 * key is never in neither place or both after a crash (the staged TAKE
 * then PUT could lose it). */
void multi_rename_group(netthr *t, kv_slot *sl);
struct blk_token;
/* LMOVE / RPOPLPUSH / SMOVE of sl with its two keys in different shards,
 * outside MULTI (route.c): one frozen run over both shards (xshard.h), so
 * no client ever sees the element in neither key or in both, and with
 * persistence on a crash keeps the whole move or none of it. tok: NULL,
 * or for a blocked BLMOVE/BRPOPLPUSH (blocking.c) its token, which the
 * run registers on the source when it is empty (xshard_run). sl must have
 * no parts and no group (sl->mx) yet. */
void multi_xshard_group(netthr *t, kv_slot *sl, struct blk_token *tok);
/* Frees the transaction of an EXEC slot, or the group of a write
 * (slot_free). */
void multi_slot_free(kv_slot *sl);
/* c is closing: its watched keys are unwatched (a slot whose reply is
 * dropped). */
void multi_conn_close(netthr *t, conn *c);
/* Frees c's transaction state (conn_free; no slot of c remains). */
void multi_conn_free(conn *c);

#endif
