/* worker.c - the background worker thread of persist/ (persist_start):
 * with --fsync interval it syncs every shard's log each period; it records
 * the newest durable segments in the MANIFEST; it writes the snapshot
 * bytes a scanning compaction queued and finishes or aborts compactions
 * (compact.c). persist_start also starts the sync threads (group.c).
 *
 * Threads: persist_start on the start-up thread; worker_main is the worker
 * thread, stopped by persist.stop and joined by persist_close. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "persist/persist.h"
#include "persist/persist_internal.h"
#include "persist/snap.h"
#include "persist/wal.h"

/* How often the worker records the newest durable WAL segments in the
 * MANIFEST (a manifest write only when a rotation happened since). */
#define PERSIST_SEG_NOTE_US 100000

static void worker_sync(persist_t *p, pshard *ps)
{
    (void)persist__timed_sync(p, ps);
}

static void *worker_main(void *arg)
{
    persist_t *p = arg;
    int64_t next_sync = kv_mono_us();
    int64_t period = (int64_t)(p->o.fsync_interval_ms > 0 ? p->o.fsync_interval_ms : 100) * 1000;
    while (!atomic_load(&p->stop)) {
        int64_t now = kv_mono_us();
        if (p->o.fsync == WAL_FSYNC_INTERVAL && now >= next_sync) {
            for (uint32_t s = 0; s < p->nshards; s++) worker_sync(p, &p->sh[s]);
            next_sync = now + period;
        }
        if (now >= p->next_seg_note_us) { /* segments rotations made durable */
            (void)persist__note_segments(p, 0, NULL, 0);
            p->next_seg_note_us = now + PERSIST_SEG_NOTE_US;
        }
        for (uint32_t s = 0; s < p->nshards; s++) {
            pshard *ps = &p->sh[s];
            switch (atomic_load(&ps->state)) {
            case C_SCANNING:                       /* the actor feeds it: write what it queued */
                (void)snap_write_queued(ps->snap); /* an error stops the feeder */
                break;
            case C_FINISHING:
                persist__compact_finish(p, ps);
                break;
            case C_ABORTING:
                snap_abort(ps->snap);
                ps->snap = NULL;
                atomic_store(&ps->state, C_FAILED);
                break;
            default:
                break;
            }
        }
        struct timespec ts = {0, 5 * 1000 * 1000}; /* 5 ms: compaction hand-offs */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int persist_start(persist_t *p)
{
    if (pthread_create(&p->worker, NULL, worker_main, p) != 0) return KV_ENOMEM;
    p->worker_started = 1;
    if (p->o.fsync == WAL_FSYNC_ALWAYS)
        for (int i = 0; i < PERSIST_SYNC_THREADS; i++) {
            if (pthread_create(&p->sync_th[i], NULL, persist__sync_thread, p) != 0) break;
            p->nsync_th++;
        }
    return 0;
}
