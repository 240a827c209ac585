#include "persist.h"

int persist_batch_commit(persist_t *p, unsigned actor_id)
{
    (void)p;
    (void)actor_id;
    return 0;
}
