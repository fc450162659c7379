/*
 * The upstream connection pool as the front sees it (doc/bench/results.md,
 * B4): curl
 * runs at most cap exchanges at once (upstream.max_connections) and keeps
 * the rest in its own first-come queue. We mirror that queue, learn how
 * long one exchange takes once it runs, and so estimate how long a new one
 * would wait; the front answers 5.03 + Max-Age at once instead of queueing
 * a request that would pass its deadline. Pure bookkeeping: no I/O, the
 * caller passes the time (mono_ms).
 */
#ifndef ESTCOAPD_BACKLOG_H
#define ESTCOAPD_BACKLOG_H

#include <stdint.h>
#include <sys/queue.h>

/* One exchange in the pool: queued (t_start 0) or running. */
struct backlog_ent {
	TAILQ_ENTRY(backlog_ent) entry;	/* in queued or running, by age */
	uint64_t		 t_enter;
	uint64_t		 t_start;	/* 0 while queued */
	void			*owner;		/* the caller's request */
	int			 active;	/* entered, not left yet */
};

TAILQ_HEAD(backlog_list, backlog_ent);

struct backlog {
	struct backlog_list	 queued;	/* oldest first */
	struct backlog_list	 running;	/* by start time, oldest first */
	unsigned		 nqueued;
	unsigned		 nrunning;
	unsigned		 cap;		/* exchanges at once (>= 1) */
	uint64_t		 ewma_ms;	/* running time; 0: no sample */
	uint64_t		 nsamples;
};

void	 backlog_init(struct backlog *, unsigned cap);

/* A new cap (reload): a larger one starts queued entries at once. */
void	 backlog_set_cap(struct backlog *, unsigned cap, uint64_t now);

/* An exchange was handed to curl: it runs if a slot is free, else queues. */
void	 backlog_enter(struct backlog *, struct backlog_ent *, void *owner,
	    uint64_t now);

/*
 * It ended (sample 1: it finished, its running time is a sample) or was
 * cancelled (sample 0). The oldest queued one takes its slot.
 */
void	 backlog_leave(struct backlog *, struct backlog_ent *, int sample,
	    uint64_t now);

/* The exchange of from is now to's (same place in the queue). */
void	 backlog_move(struct backlog *, struct backlog_ent *from,
	    struct backlog_ent *to, void *owner);

/*
 * How long one exchange runs: a moving average of finished ones that
 * follows a longer sample at once and a shorter one by 1/8, and at least
 * how long the oldest running one has been at it (so a slow upstream shows
 * before its first answer). 0 when nothing is known.
 */
uint64_t backlog_service_ms(const struct backlog *, uint64_t now);

/*
 * Expected ms from now until an exchange with `ahead` queued exchanges in
 * front of it is finished. It takes the slot of the (ahead mod cap)-th
 * oldest running one, which ends one service time after it started, plus
 * one service time per full round of cap ahead of it, plus its own.
 * 0 when nothing is known yet.
 */
uint64_t backlog_wait_ms(const struct backlog *, unsigned ahead,
	    uint64_t now);

/*
 * Visit the queued exchanges, oldest first, each with its expected wait
 * as above. The visitor may leave (backlog_leave) the entry it is given;
 * it returns 1 then, so that the ones behind move up.
 */
typedef int	(*backlog_visit_fn)(struct backlog_ent *, uint64_t wait_ms,
		    void *arg);
void	 backlog_scan(struct backlog *, uint64_t now, backlog_visit_fn,
	    void *arg);

#endif
