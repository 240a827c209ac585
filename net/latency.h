/* latency.h - LATENCY: the latency monitor. Events (a slow command, an
 * expiry cycle, an fsync, a compaction slice, ...) that took at least
 * latency-monitor-threshold milliseconds are kept by name, with the
 * latest, the highest and a history of one sample per second (the last
 * LATENCY_HISTORY). Any thread may add a sample: samples are rare by
 * definition (over the threshold), so one mutex guards the table; the
 * threshold is an atomic read with one relaxed load before anything else.
 */
#ifndef MEMKV_LATENCY_H
#define MEMKV_LATENCY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/cmd.h"

#define LATENCY_HISTORY    160 /* samples kept per event, as Redis */
#define LATENCY_MAX_EVENTS 16

typedef struct latency_sample {
    int64_t unix_s;
    uint32_t ms;
} latency_sample;

typedef struct latency_event {
    char name[32];
    latency_sample hist[LATENCY_HISTORY]; /* ring */
    unsigned idx;                         /* next slot of hist */
    uint32_t max_ms;                      /* all-time highest */
} latency_event;

typedef struct latency_mon {
    _Atomic int64_t threshold_ms; /* latency-monitor-threshold; 0 = off */
    pthread_mutex_t lock;         /* guards what follows */
    latency_event ev[LATENCY_MAX_EVENTS];
    unsigned nev;
} latency_mon;

int latency_init(latency_mon *m, int64_t threshold_ms);
void latency_destroy(latency_mon *m);

/* Whether something that took us microseconds is an event. Any thread. */
static inline int latency_wanted(latency_mon *m, uint64_t us)
{
    int64_t th = atomic_load_explicit(&m->threshold_ms, memory_order_relaxed);
    return th > 0 && us >= (uint64_t)th * 1000;
}

/* Records event (a static name) if it took at least the threshold; the
 * samples of one second keep their highest. Any thread. */
void latency_add(latency_mon *m, const char *event, uint64_t us);

/* The LATENCY command (argv[0] is "latency"): LATEST, HISTORY, RESET,
 * DOCTOR, HELP. Any thread. */
void latency_command(latency_mon *m, int argc, const kv_str *argv, kvbuf *out);

/* The Prometheus families of the events kept now: per event the latest
 * and highest spike (seconds) and the samples in its history. Any thread. */
void latency_prometheus(latency_mon *m, kvbuf *b);

#endif
