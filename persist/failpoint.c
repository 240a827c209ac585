/* failpoint.c - test-only crash points (failpoint.h). */
#include "persist/failpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *failpoint_name; /* set once at start-up, then read-only */

void failpoint_init(void)
{
    const char *v = getenv("MEMKV_FAILPOINT");
    failpoint_name = v && *v ? v : NULL;
}

void failpoint_hit(const char *name)
{
    if (failpoint_name == NULL || strcmp(failpoint_name, name) != 0) return;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "failpoint %s: exiting with code 99\n", name);
    if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(99);
}
