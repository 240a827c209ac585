/* schedule.c - open-loop schedule; see schedule.h. */
#include "bench/schedule.h"

#include <assert.h>

void sched_init(sched_t *s, uint64_t start_ns, double rate_total, unsigned nconns,
                unsigned conn_index)
{
    assert(rate_total > 0 && nconns > 0 && conn_index < nconns);
    s->start_ns = start_ns;
    s->interval_ns = 1e9 * (double)nconns / rate_total;
    s->phase_ns = s->interval_ns * (double)conn_index / (double)nconns;
    s->issued = 0;
}

void sched_restart(sched_t *s, uint64_t start_ns)
{
    s->start_ns = start_ns - (uint64_t)((double)s->issued * s->interval_ns);
}
