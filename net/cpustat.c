#include "net/cpustat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Reads one /proc/self/task/<tid>/stat line: "tid (comm) state ... utime
 * stime ..." (fields 14 and 15, in clock ticks). comm may hold spaces or
 * parentheses, so the fields are counted from the last ')'. */
static int thread_read(const char *tid, long ticks, cpustat_thread *th)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", tid); /* a tid: digits */
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (open == NULL || close == NULL || close < open) return -1;
    size_t len = (size_t)(close - open - 1);
    if (len >= sizeof th->name) len = sizeof th->name - 1;
    memcpy(th->name, open + 1, len);
    th->name[len] = '\0';
    unsigned long long ut, stt;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
        return -1;
    th->main = atoi(tid) == (int)getpid();
    th->user = (double)ut / (double)ticks;
    th->sys = (double)stt / (double)ticks;
    return 0;
}

void cpustat_read(cpustat *st)
{
    memset(st, 0, sizeof *st);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        st->user = tv_seconds(ru.ru_utime);
        st->sys = tv_seconds(ru.ru_stime);
    }
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        st->user_children = tv_seconds(ru.ru_utime);
        st->sys_children = tv_seconds(ru.ru_stime);
    }
    long ticks = sysconf(_SC_CLK_TCK);
    DIR *d = opendir("/proc/self/task");
    if (d == NULL || ticks <= 0) {
        if (d) closedir(d);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && st->nthreads < CPUSTAT_MAX_THREADS) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        if (thread_read(de->d_name, ticks, &st->thread[st->nthreads]) == 0) st->nthreads++;
    }
    closedir(d);
}
