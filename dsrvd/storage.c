/*
 * The storage process: chrooted into the data directory as its own
 * user, the only process that touches stored chunks.  It will commit,
 * verify, read, list and stat chunks for the network workers.
 *
 * Peers: parent (configuration), every network worker (chunk requests,
 * with the storage milestone).
 */
#include <sys/types.h>

#include "dsrvd.h"
#include "log.h"

void
storage_start(struct child_env *env)
{
	/* Nothing to configure yet: the storage requests arrive later. */
}
