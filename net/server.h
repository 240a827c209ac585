/* server.h - the server: configuration, actors, network threads.
 *
 * server_new builds everything from a configuration, server_run listens and
 * blocks until server_stop is called (from a signal-handling thread), then
 * server_free tears it all down. Start-up thread, except server_stop.
 */
#ifndef MEMKV_SERVER_H
#define MEMKV_SERVER_H

#include "engine/config.h"
#include "net/tls.h"

typedef struct server server_t;

/* Creates the server (binds the listening sockets). tls is the context
 * for --tls-port (NULL without), owned by the server from here on, even
 * on failure. NULL with err set. */
server_t *server_new(const kv_config *cfg, tls_ctx *tls, char *err, size_t errlen);
/* Starts actors and network threads and waits until server_stop. Returns 0
 * or a negative KV_E* code with err set. */
int server_run(server_t *s, char *err, size_t errlen);
/* Any thread: asks server_run to return. */
void server_stop(server_t *s);
/* Accepts NULL and half-built servers. */
void server_free(server_t *s);

#endif
