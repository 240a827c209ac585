#!/bin/bash
# mem-kv-healthcheck - the image's HEALTHCHECK: sends an inline PING to the
# server on 127.0.0.1 and succeeds when the answer is +PONG (or -NOAUTH: a
# server that requires a password is up and answering). Needs nothing but
# bash (its /dev/tcp). The port is $1, else the one the entrypoint
# recorded in ${TMPDIR:-/tmp}/mem-kv.port, else $MEMKV_PORT, else 8080.
# Exit status: 0 healthy, 1 not.
port=${1:-$(cat "${TMPDIR:-/tmp}/mem-kv.port" 2>/dev/null)}
port=${port:-${MEMKV_PORT:-8080}}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'PING\r\n' >&3
IFS= read -r -t 2 answer <&3 || exit 1
[[ $answer == "+PONG"* || $answer == "-NOAUTH"* ]]
