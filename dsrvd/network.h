#ifndef DSRVD_NETWORK_H
#define DSRVD_NETWORK_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "dsrvd.h"

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct listen_addr	*la;		/* owned by the conf */
	struct event		*ev;
};

struct network {
	struct child_env	*env;
	TAILQ_HEAD(, listener)	 listeners;
	struct event		*ev_pause;
	int			 paused;
	uint64_t		 conns_total;
	uint64_t		 ctl_conns_total;
};

extern struct network	 nenv;

/* network.c */
int	network_accept_fd(int, struct sockaddr_storage *, socklen_t *);

/* control.c: the control socket, served by network worker 0 */
void	control_init(struct child_env *);
void	control_pause(int);

#endif /* DSRVD_NETWORK_H */
