#!/usr/bin/env bash
# make_corpus.sh [BUILD]: (re)writes the seed corpora of tests/fuzz/corpus
# from real files: a server (BUILD/mem-kv-server, default build) takes a
# mix of writes with --shards 1, compacts, and its WAL records (segment
# header stripped), snapshot and MANIFEST become seeds; requests and config
# files are written out literally. Run by hand; the corpus is committed.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=${1:-../../build}
SERVER=$BUILD/mem-kv-server
C=corpus
mkdir -p "$C"/{parse,wal_record,snap,manifest,config} # keeps the inputs fuzzing added (hash names)
d=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$d"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SERVER" --port "$port" --dir "$d/data" --shards 1 --fsync always --compact-log-size 0 >"$d/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done
r() { redis-cli -p "$port" "$@" >/dev/null; }
r SET a 1; r SET b "$(printf 'bin\001\002')" EX 1000; r DEL a; r HSET h f1 v1 f2 v2; r HDEL h f1
r EXPIRE h 500; r PERSIST h; r INCR n; r APPEND b xyz; r FLUSHALL; r SET k v PX 123456; r HSET h2 f v
seg=$(ls "$d"/data/shard-000/wal-*.log | head -1)
tail -c +41 "$seg" >"$C/wal_record/stream"
head -c $((40 + 13 + 64)) "$seg" | tail -c +41 >"$C/wal_record/one-torn"
r COMPACT
for _ in $(seq 1 100); do grep -q 'compaction done' "$d/log" && break; sleep 0.05; done
cp "$(ls "$d"/data/shard-000/snap-*.snap | head -1)" "$C/snap/snapshot"
cp "$d/data/MANIFEST" "$C/manifest/one-shard"
kill "$pid"; wait "$pid" || true
"$SERVER" --port "$port" --dir "$d/data16" --shards 16 >"$d/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done
kill "$pid"; wait "$pid" || true
cp "$d/data16/MANIFEST" "$C/manifest/sixteen-shards"
# parse: two control bytes (limits, split seed), then requests
printf '\000\000*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$C/parse/resp"
printf '\000\001GET k\r\nSET k "a b" \r\nMGET a b c\r\n' >"$C/parse/inline"
printf '\007\002SET k v\nGET k\nSTATS\n' >"$C/parse/plain"
printf '\000\003*2\r\n$4\r\nAUTH\r\n$3\r\npwd\r\n*-1\r\n*0\r\n' >"$C/parse/auth-empty"
# config: a file; and a command line (NUL-separated)
printf 'port 7000\nbind 0.0.0.0\n# comment\nmaxmemory 64mb\nmaxmemory-policy allkeys-lru\nrequirepass "p w"\nclient-output-buffer-limit normal 64mb 16mb 60\nfsync always\n' >"$C/config/file"
printf '%s\0' --port 7001 --threads 2 --tls-port 0 --compact-cpu 10 --maxclients 5 >"$C/config/argv"
ls -l "$C"/*
