/* schedule.h - open-loop send schedule of one connection.
 *
 * In open-loop mode (--rate R) every connection owns a schedule: request i
 * is intended to leave at start + phase + i * interval, where interval =
 * nconns / R and phase staggers the connections evenly over one interval.
 * Latency is measured from the intended time, not from the moment the
 * request was actually written, so a server stall that delays sending is
 * charged to the requests it delayed (the coordinated-omission correction
 * of wrk2). Times are CLOCK_MONOTONIC nanoseconds. One thread.
 */
#ifndef MEMKV_BENCH_SCHED_H
#define MEMKV_BENCH_SCHED_H

#include <stdint.h>

typedef struct sched {
    uint64_t start_ns;  /* ro: time of request 0 before phase */
    double interval_ns; /* ro */
    double phase_ns;    /* ro */
    uint64_t issued;    /* ro: requests handed out by sched_take */
} sched_t;

/* rate_total: requests per second over all nconns connections (> 0);
 * conn_index in [0, nconns). */
void sched_init(sched_t *s, uint64_t start_ns, double rate_total, unsigned nconns,
                unsigned conn_index);

/* Intended send time of request number i. */
static inline uint64_t sched_time_of(const sched_t *s, uint64_t i)
{
    return s->start_ns + (uint64_t)(s->phase_ns + (double)i * s->interval_ns);
}

/* Intended time of the next request not yet taken. */
static inline uint64_t sched_peek(const sched_t *s)
{
    return sched_time_of(s, s->issued);
}

/* If the next request is due at now_ns (its intended time <= now_ns), takes
 * it: stores its intended time in *intended and returns 1. Else returns 0. */
static inline int sched_take(sched_t *s, uint64_t now_ns, uint64_t *intended)
{
    uint64_t t = sched_peek(s);
    if (t > now_ns) return 0;
    *intended = t;
    s->issued++;
    return 1;
}

/* Moves the schedule so that request number `issued` is due at start_ns
 * (used when the warm-up ends: the measured phase starts on time). */
void sched_restart(sched_t *s, uint64_t start_ns);

#endif
