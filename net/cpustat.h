/* cpustat.h - CPU time of the process, its children and each of its
 * threads, from getrusage and /proc/self/task/<tid>/stat: INFO's cpu
 * section and the /metrics page. Any thread; each call reads /proc (a few
 * microseconds per thread), so call it when asked, not per command.
 */
#ifndef MEMKV_CPUSTAT_H
#define MEMKV_CPUSTAT_H

#include <stddef.h>

#define CPUSTAT_MAX_THREADS 64

typedef struct cpustat_thread {
    char name[16];    /* the thread's name (comm): "net-0", "actor-1", ... */
    int main;         /* the process's first thread (tid == pid) */
    double user, sys; /* seconds */
} cpustat_thread;

typedef struct cpustat {
    double user, sys;                   /* the whole process, seconds */
    double user_children, sys_children; /* waited-for children, seconds */
    size_t nthreads;                    /* entries of thread[] filled */
    cpustat_thread thread[CPUSTAT_MAX_THREADS];
} cpustat;

/* Fills st. The per-thread part is empty where /proc is missing. */
void cpustat_read(cpustat *st);

#endif
