#!/bin/sh
# zset_bench.sh - ZADD/ZRANGE/ZRANK throughput on one 1 M-member sorted set
# (members m000000000000..m000000999999, score = index), with
# redis-benchmark at pipeline 1 and 16, against a running server:
#   bench/zset_bench.sh PORT [N]
# ZADD updates a random member's score (remove + insert in the order);
# ZRANGE reads the 10 members of ranks 0..9, then of 500000..500009; ZRANK a
# random member. docs/benchmarks.md has the figures.
set -e
P=$1
N=${2:-50000}
python3 -c "
import sys, socket
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
def enc(a):
    o = [b'*%d\r\n' % len(a)]
    for x in a:
        x = x.encode(); o.append(b'\$%d\r\n%s\r\n' % (len(x), x))
    return b''.join(o)
s.sendall(enc(['DEL', 'bz'])); s.recv(100)
for i in range(0, 1000000, 1000):
    a = ['ZADD', 'bz']
    for j in range(i, i + 1000): a += [str(j), 'm%012d' % j]
    s.sendall(enc(a))
    b = b''
    while not b.endswith(b'\r\n'): b += s.recv(100)
s.sendall(enc(['ZCARD', 'bz'])); print('ZCARD', s.recv(100))
" "$P"
for pl in 1 16; do
  echo "== P$pl"
  redis-benchmark -h 127.0.0.1 -p "$P" -c 50 -n "$N" -P $pl -r 1000000 -q ZADD bz __rand_int__ m__rand_int__ | tr "\r" "\n" | grep "requests per second"
  redis-benchmark -h 127.0.0.1 -p "$P" -c 50 -n "$N" -P $pl -r 1000000 -q ZRANGE bz 0 9 | tr "\r" "\n" | grep "requests per second"
  redis-benchmark -h 127.0.0.1 -p "$P" -c 50 -n "$N" -P $pl -r 1000000 -q ZRANGE bz 500000 500009 | tr "\r" "\n" | grep "requests per second"
  redis-benchmark -h 127.0.0.1 -p "$P" -c 50 -n "$N" -P $pl -r 1000000 -q ZRANK bz m__rand_int__ | tr "\r" "\n" | grep "requests per second"
done
